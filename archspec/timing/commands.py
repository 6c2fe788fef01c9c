"""The commands of the time model: `archspec devices`, `roofline`, `time` and `plan`.

Each is a thin layer over archspec.timing (the figures) and archspec.formats (the units).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from itertools import product
from typing import Any

from archspec.errors import ArchspecError
from archspec.formats import grouped, human, human_bytes
from archspec.hardware import Device, devices, get_device
from archspec.report import Report

TOKEN_UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}


def parse_count(text: str, what: str) -> int:
    """15.6T, 2e12, 4M: a count with an optional suffix."""
    text = text.strip()
    suffix = text[-1:] if text[-1:].upper() in TOKEN_UNITS and not text[-1:].isdigit() else ""
    try:
        value = float(text[: len(text) - len(suffix)]) * TOKEN_UNITS[suffix.upper()]
    except ValueError:
        raise ArchspecError(f"{what}: cannot read {text!r}; write a number with an optional K, M, B/G or T") from None
    if not math.isfinite(value) or value <= 0 or value > 1e30:
        raise ArchspecError(f"{what}: expected a positive count, found {text!r}")
    return int(value)


def seconds(value: float) -> str:
    """A duration in readable units."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60), ("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


# ---- archspec devices ----------------------------------------------------------------------
def run_devices(args) -> int:
    known = devices()
    if args.format == "json":
        print(json.dumps({key: {
            "name": d.name, "memory_bytes": d.memory, "memory_bandwidth_bytes_per_s": d.memory_bandwidth,
            "matmul_flops": d.matmul, "vector_flops": d.vector, "intra_node_bytes_per_s": d.intra_node_bandwidth,
            "inter_node_bytes_per_s": d.inter_node_bandwidth, "devices_per_node": d.devices_per_node, "sources": d.sources,
        } for key, d in known.items()}, indent=2))
        return 0
    header = f"{'device':<11} {'name':<32} {'bf16 TF':>8} {'fp8 TF':>7} {'memory':>9} {'HBM TB/s':>9} {'node GB/s':>9} {'net GB/s':>8}"
    print(header)
    print("-" * len(header))
    for key, d in known.items():
        fp8 = f"{d.matmul['fp8'] / 1e12:.0f}" if "fp8" in d.matmul else "-"
        print(f"{key:<11} {d.name:<32} {d.matmul.get('bf16', 0) / 1e12:>8.1f} {fp8:>7} {d.memory / 2**30:>5.0f} GiB "
              f"{d.memory_bandwidth / 1e12:>9.2f} {d.intra_node_bandwidth / 1e9:>9.0f} {d.inter_node_bandwidth / 1e9:>8.1f}")
    print("dense throughput; bandwidths per direction; sources: archspec devices --format json (docs/performance-model.md)")
    return 0


# ---- archspec roofline ---------------------------------------------------------------------
def largest_decode_batch(free_batch: Report, device: Device, dtype: str) -> int | None:
    """The largest B whose inference memory in decoding (weights, KV cache of P tokens, one
    step's activations) fits in one device's memory; None when the memory does not grow with B."""
    from archspec.dims import evaluate_at
    from archspec.formula import FormulaError, fit
    from archspec.memory import MemoryOptions, memory

    total = memory(free_batch, MemoryOptions(training=False, dtype=dtype)).totals["inference_total"]
    if {str(s) for s in getattr(total, "free_symbols", ())} != {"B"}:
        return None
    try:
        found = fit(lambda n: int(evaluate_at(total, {"B": n})), lambda n: {}, "B", "memory", int(device.memory))
    except FormulaError:
        return None
    return found.value


def run_roofline(args, report, efficiency, free_batch: Report | None = None) -> int:
    from archspec.timing.roofline import roofline

    device = get_device(args.device)
    rows, totals = roofline(report, device, args.dtype, efficiency)
    batch = next(iter(report.inputs.values()))[0]
    data: dict[str, Any] = {"name": report.name, "device": device.name, "dtype": args.dtype, **{k: _plain(v) for k, v in totals.items()}}
    if report.decode:
        data["decode_tokens_per_s"] = _plain(batch / totals["time_s"])
        data["decode_step_s"] = _plain(totals["time_s"])
        data["P"] = _plain(report.params.get("P"))
        if free_batch is not None:
            data["largest_batch"] = largest_decode_batch(free_batch, device, args.dtype)
    if args.format == "json":
        data["layers"] = [{"name": r.name, "type": r.type, "flops": _plain(r.flops), "bytes": _plain(r.bytes),
                           "intensity": _plain(r.intensity), "bound": r.bound, "time_s": _plain(r.time_s)} for r in _collapse(rows, args.depth)]
        print(json.dumps(data, indent=2))
        return 0
    ridge = device.matmul_flops(args.dtype) * efficiency.matmul / (device.memory_bandwidth * efficiency.memory)
    step = "decode step" if report.decode else "forward pass"
    print(f"{report.name} on {device.name}, {args.dtype}: one {step}; ridge point {ridge:.0f} FLOP/byte")
    header = f"{'name':<40} {'type':<16} {'FLOPs':>10} {'bytes':>11} {'FLOP/B':>8} {'bound':>8} {'time':>10}"
    print(header)
    print("-" * len(header))
    for r in _collapse(rows, args.depth):
        intensity = f"{float(r.intensity):.1f}" if _is_number(r.intensity) else "-"
        time = seconds(float(r.time_s)) if _is_number(r.time_s) else str(r.time_s)
        print(f"{r.name[:40]:<40} {r.type[:16]:<16} {human(r.flops):>10} {human_bytes(r.bytes):>11} {intensity:>8} {r.bound:>8} {time:>10}")
    print("-" * len(header))
    if _is_number(totals["time_s"]):
        line = f"total: {human(totals['flops'])}FLOPs, {human_bytes(totals['bytes'])} moved, time >= {seconds(totals['time_s'])}"
        line += f" (compute {seconds(totals['compute_s'])}, memory {seconds(totals['memory_s'])})"
        if report.decode:
            line += f"; {float(data['decode_tokens_per_s']):,.1f} tokens/s"
        print(line)
    else:  # free params: the bound is a formula in them
        print(f"time >= {totals['time_s']} s")
    if data.get("largest_batch"):
        print(f"largest batch beside its KV cache in {device.memory / 2**30:.0f} GiB: B = {data['largest_batch']:,}")
    elif "largest_batch" in data:
        print("no batch fits: the weights alone exceed the device memory" if data["largest_batch"] == 0 else
              "largest batch: memory does not grow with B alone (bind the other params)")
    if args.plot:
        from archspec.plot import plot_roofline

        plot_roofline(rows, device, args.dtype, efficiency, args.plot, f"{report.name} on {device.name}")
    return 0


def _collapse(rows, depth):
    if not depth:
        return rows
    from archspec.timing.roofline import RooflineRow

    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(".".join(r.name.split(".")[:depth]), []).append(r)
    return [RooflineRow(name, group[0].type if len(group) == 1 else "block", sum(g.flops for g in group), sum(g.matmul_flops for g in group),
                        sum(g.bytes for g in group), sum(g.compute_s for g in group), sum(g.memory_s for g in group))
            for name, group in groups.items()]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) or getattr(value, "is_Number", False)


def _plain(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return value
    if getattr(value, "is_Number", False):
        return float(value)
    return str(value)


# ---- archspec time -------------------------------------------------------------------------
def run_time(args, report, options, layout, efficiency) -> int:
    from archspec.timing.training import training_step

    device = get_device(args.device)
    step = training_step(report, options, layout, device, efficiency, mfu=args.mfu)
    data = step.to_dict()
    fits = step.memory["total"] <= device.memory if _is_number(step.memory["total"]) else None
    data.update({"device": device.name, "layout": layout.describe(), "memory_per_device": _plain(step.memory["total"]), "fits": fits})
    if args.tokens:
        tokens = parse_count(args.tokens, "--tokens")
        steps = tokens / step.tokens_per_step
        total = steps * step.step_time_s
        data.update({
            "tokens": tokens, "steps": steps, "time_s": total, "gpu_hours": total * step.devices / 3600,
            "training_flops_total": step.training_flops / step.tokens_per_step * tokens,
            "training_flops_6nd_total": step.flops_6nd / step.tokens_per_step * tokens,
        })
        if args.price:
            data["cost"] = data["gpu_hours"] * args.price
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    print(f"{report.name}: training on {step.devices:,} x {device.name}, {options.dtype}; {layout.describe()}")
    basis = f"at MFU {args.mfu:.0%} (--mfu)" if args.mfu else "roofline of every layer at the efficiencies in docs/performance-model.md"
    print(f"  step time          {seconds(step.step_time_s)}  ({basis})")
    if not args.mfu:
        comm = ", ".join(f"{dim} {seconds(v)}" for dim, v in step.communication_s.items() if v) or "none"
        print(f"    per micro-batch  {seconds(step.microbatch_s)} (compute {seconds(step.compute_s)}); pipeline bubble {seconds(step.bubble_s)}; "
              f"exposed communication {comm}; optimizer update {seconds(step.update_s)}")
    print(f"  model FLOPs/step   {human(step.training_flops)}  (6 x MACs x sequences; hardware {human(step.hardware_flops)} with "
          f"recomputation; 6 x active params x tokens {human(step.flops_6nd)})")
    print(f"  MFU / HFU          {step.mfu:.1%} / {step.hfu:.1%}")
    print(f"  tokens/s           {step.tokens_per_s:,.0f}  ({step.tokens_per_step:,.0f} per step)")
    memory = step.memory["total"]
    verdict = "fits" if fits else "does NOT fit" if fits is False else "?"
    print(f"  memory per device  {human_bytes(memory)} of {device.memory / 2**30:.0f} GiB: {verdict} (most loaded device)")
    if args.tokens:
        print(f"  {grouped(data['tokens'])} tokens: {data['steps']:,.0f} steps, {seconds(data['time_s'])}, "
              f"{amount(data['gpu_hours'])} GPU-hours, {human(data['training_flops_total'])}FLOPs "
              f"(6ND {human(data['training_flops_6nd_total'])}FLOPs)")
        if args.price:
            print(f"  cost               {amount(data['cost'])} at {args.price} per GPU-hour")
    return 0


def amount(value: float) -> str:
    """GPU-hours or money: whole units with separators, three significant digits below 100."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


# ---- archspec plan -------------------------------------------------------------------------
def run_plan(args, analyze_at, options, efficiency) -> int:
    from archspec.parallel import Layout, LayoutError
    from archspec.timing.training import require_numbers, training_step

    device = get_device(args.device)
    gpus = args.gpus
    sequences = args.global_batch
    candidates = []
    checked = 0
    for batch in (1, 2, 4, 8):
        report = analyze_at(batch)
        require_numbers(report)  # here, not in the search, which passes over a layout that fails
        experts = _routed_experts(report)
        for tp in (1, 2, 4, 8):
            if tp > device.devices_per_node or gpus % tp:
                continue
            for pp in _divisors(gpus // tp):
                dp = gpus // (tp * pp)
                if sequences % (batch * dp):
                    continue
                micro = sequences // (batch * dp)
                # expert parallelism for a mixture of experts: sizes that split the experts and the data ranks
                for ep, zero, recompute in product(_expert_sizes(experts, dp), (1, 3), ("none", "selective", "full")):
                    layout = Layout(dp=dp, tp=tp, pp=pp, sp=tp > 1, zero=zero, recompute=recompute, microbatches=micro,
                                    ep=ep, ep_dispatch=args.ep_dispatch)
                    checked += 1
                    try:  # the step's own memory model decides whether the layout fits
                        step = training_step(report, replace(options, layout=None), layout, device, efficiency)
                    except (LayoutError, ArchspecError):
                        continue
                    memory = step.memory["total"]
                    if memory <= device.memory:
                        candidates.append((step.step_time_s, memory, batch, layout, step))
    candidates.sort(key=lambda c: (c[0], c[1]))
    if args.format == "json":
        print(json.dumps({"device": device.name, "gpus": gpus, "global_batch": sequences, "checked": checked, "layouts": [
            {"B": b, "dp": layout.dp, "tp": layout.tp, "pp": layout.pp, "ep": layout.ep, "sp": layout.sp, "zero": layout.zero,
             "recompute": layout.recompute,
             "microbatches": layout.microbatches, "memory": memory, "step_time_s": t, "mfu": step.mfu}
            for t, memory, b, layout, step in candidates[: args.top]]}, indent=2))
    else:
        print(f"{gpus:,} x {device.name}, {sequences:,} sequences per step: {len(candidates)} of {checked} layouts fit in "
              f"{device.memory / 2**30:.0f} GiB; the fastest:")
        ep_column = f" {'ep':>3}" if experts else ""  # only a mixture of experts has expert parallelism
        header = f"{'B':>3} {'dp':>5} {'tp':>3} {'pp':>3}{ep_column} {'sp':>3} {'zero':>4} {'recompute':>10} {'M':>5} {'memory':>11} {'step':>10} {'MFU':>6}"
        print(header)
        for t, memory, b, layout, step in candidates[: args.top]:
            ep = f" {layout.ep:>3}" if experts else ""
            print(f"{b:>3} {layout.dp:>5} {layout.tp:>3} {layout.pp:>3}{ep} {'y' if layout.sp else '-':>3} {layout.zero:>4} "
                  f"{layout.recompute:>10} {layout.microbatches:>5} {human_bytes(memory):>11} {seconds(t):>10} {step.mfu:>6.1%}")
    if args.plot and candidates:
        from archspec.plot import plot_plan

        plot_plan(candidates, args.plot, f"{gpus} x {device.name}")
    return 0 if candidates else 1


def _routed_experts(report) -> int:
    """The experts of the network's mixtures (the fewest, if they differ), 0 without any."""
    counts = {row.experts[0] for row in report.layers if row.experts is not None and isinstance(row.experts[0], int)}
    return min(counts, default=0)


def _expert_sizes(experts: int, dp: int) -> list[int]:
    """Expert-parallel sizes to try: every size dividing both the experts and the data ranks."""
    return [ep for ep in _divisors(dp) if experts % ep == 0] if experts else [1]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
