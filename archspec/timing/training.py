"""Training step time on a device under a parallel layout.

Per device and micro-batch, each layer of its pipeline stage runs forward at its roofline
bound (archspec.timing.roofline), divided over the tensor-parallel ranks where the layer
is split (all layers with sequence parallelism) and over the context-parallel ranks;
backward costs twice the forward for a layer with MACs (the input and weight gradients)
and once for an elementwise one; recomputation adds the forward again (full) or the
attention core's (selective). Communication runs over the device's links (within a node:
tensor, context and expert parallelism; across nodes: pipeline and data parallelism once
they span nodes) at e_link of their bandwidth, exposed except the overlapped fractions;
node-limited expert dispatch takes the slower of its transfers between and inside nodes.
Under fp8 the attention core, and in a network of blocks every product outside them, run
at the bf16 peak (docs/performance-model.md).

    micro-batch time = compute + exposed tp/cp/ep traffic + pipeline send/receive
    step time        = micro-batch time x (M + (pp - 1)/v) + exposed dp traffic + optimizer update
    model FLOPs      = 6 x MACs x B_global (forward 2, backward 4 per MAC; matmuls only)
    6ND FLOPs        = 6 x active params x tokens (the scaling-law convention of published budgets)
    MFU = model FLOPs / (step time x devices x peak); HFU adds the recomputed FLOPs
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from archspec.dims import product
from archspec.errors import ArchspecError
from archspec.hardware import Device
from archspec.memory import BYTES, MemoryOptions
from archspec.parallel import Layout, parallel_memory
from archspec.parallel.pipeline import stage_fractions
from archspec.parallel.tensor import plan_rows
from archspec.report import Report
from archspec.timing.roofline import Efficiency, row_bytes

ATTENTION = ("Attention", "LatentAttention", "MultiheadAttention")


@dataclass
class StepTime:
    """One training step on a layout: the time, its parts, throughput and utilization."""

    step_time_s: float
    microbatch_s: float
    compute_s: float  # per micro-batch, forward + backward + recompute
    communication_s: dict[str, float]  # exposed, per step, by parallel dimension
    bubble_s: float
    update_s: float
    training_flops: float  # model FLOPs of one step (every device)
    hardware_flops: float  # with the recomputed FLOPs
    tokens_per_step: float
    flops_6nd: float  # 6 x active params x tokens of one step
    mfu: float
    hfu: float
    devices: int
    memory: dict[str, Any] = field(default_factory=dict)  # the most loaded device's memory

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.step_time_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_time_s": self.step_time_s, "microbatch_s": self.microbatch_s, "compute_s": self.compute_s,
            "communication_s": self.communication_s, "bubble_s": self.bubble_s, "update_s": self.update_s,
            "training_flops": self.training_flops, "hardware_flops": self.hardware_flops, "tokens_per_step": self.tokens_per_step,
            "training_flops_6nd": self.flops_6nd,
            "tokens_per_s": self.tokens_per_s, "mfu": self.mfu, "hfu": self.hfu, "devices": self.devices,
        }


def tokens_of(report: Report) -> int:
    """Tokens of one micro-batch: the ids of the first integer input (B x L), else its samples (B)."""
    for name, shape in report.inputs.items():
        storage = list(report.inputs).index(name)
        if report.storages[storage].dtype.startswith("int"):
            return int(product(shape))
    return int(next(iter(report.inputs.values()))[0])


def training_step(
    report: Report, options: MemoryOptions, layout: Layout, device: Device,
    efficiency: Efficiency | None = None, mfu: float | None = None,
) -> StepTime:
    """The step time of training `report` (one micro-batch) on `layout` over `device`s."""
    require_numbers(report)
    efficiency = efficiency or Efficiency()
    efficiency.check()
    layout.check()
    if layout.node_size is None:
        layout = replace(layout, node_size=device.devices_per_node)
    dtype = options.dtype
    peak = device.matmul_flops(dtype)
    devices = int(layout.devices)
    micro = int(layout.microbatches)
    global_batches = micro * int(layout.dp)
    macs = int(report.totals["macs"])
    model_flops = 6.0 * macs * global_batches
    tokens = float(tokens_of(report) * global_batches)
    flops_6nd = 6.0 * float(report.totals.get("active_params", report.totals["params"])) * tokens
    memory = parallel_memory(report, options, layout)
    loaded = memory.most_loaded_stage or 0
    if mfu is not None:
        step = model_flops / (devices * peak * mfu)
        return StepTime(step, step / micro, step / micro, {}, 0.0, 0.0, model_flops, model_flops, tokens, flops_6nd, mfu, mfu,
                        devices, memory.devices["most_loaded"])
    plans, _ = plan_rows(report, layout)
    shares = stage_fractions(report, layout)
    matmul = peak * efficiency.matmul
    # an fp8 recipe keeps some products in bf16 (_in_bf16); elsewhere the two peaks are one
    fp8 = dtype == "fp8"
    wide = device.matmul_flops("bf16") * efficiency.matmul if fp8 else matmul
    stacked = any(len(row.path) >= 2 for row in report.layers)  # a network of blocks (a transformer stack)
    vector = device.vector_flops(dtype) * efficiency.vector
    bandwidth = device.memory_bandwidth * efficiency.memory
    inference = MemoryOptions(training=False, dtype=dtype)
    compute = recomputed = 0.0
    for row, plan, share in zip(report.layers, plans, shares):
        recomputed += _recomputed_macs(row, layout.recompute)
        part = float(share.get(loaded, 0))
        if not part:
            continue
        split = float(layout.cp) * (float(layout.tp) if layout.sp or plan.splits_work else 1.0)
        mm = 2 * row.macs
        mm_wide = 2 * _in_bf16(row, stacked) if fp8 else 0
        matmul_time = (mm - mm_wide) / matmul + mm_wide / wide
        forward = max(matmul_time + (row.flops - mm) / vector, row_bytes(report, row, inference) / bandwidth) / split
        extra = 0.0
        if layout.recompute in ("full", "per-block"):
            extra = forward
        elif layout.recompute == "selective" and row.type in ATTENTION:
            # the attention core again: its two products over the scores, and what moves through memory
            core = row.layer.parts(*row.input_shapes)
            core_mm = 2 * core.score_macs()
            core_bytes = row.layer.internal_elements(*row.input_shapes) * float(BYTES[dtype])
            extra = max(core_mm / wide + core.other_flops() / vector, core_bytes / bandwidth) * row.times / split
        # backward: a matrix product's two gradients (input and weight) cost twice its forward;
        # an elementwise op's one pass of the same size as its forward
        passes = 3 if row.macs else 2
        compute += part * (passes * forward + extra)
    links = _links(layout, device, efficiency)
    comm = dict(memory.communication.get(loaded, {}))
    exposed: dict[str, float] = {}
    per_micro = 0.0
    # node-limited expert dispatch: the forward inside the node runs on its own links while the
    # transfers between nodes arrive (pipelined), so the slower of the two is the time
    node_forward = float(sum(comm.pop("ep_node", {}).values())) / links["ep_node"] if "ep_node" in comm else 0.0
    for dim, kinds in comm.items():
        seconds = float(sum(kinds.values())) / links[dim]
        if dim == "ep":
            seconds = max(seconds, node_forward)
        if dim in ("tp", "cp", "ep"):
            seconds *= 1 - efficiency.tp_overlap
            per_micro += seconds / micro
        elif dim == "pp":
            per_micro += seconds / micro
        else:
            seconds *= 1 - efficiency.dp_overlap
        exposed[dim] = seconds
    states = memory.devices["most_loaded"]
    update = 2 * float(sum(states[k] for k in ("weights", "gradients", "optimizer", "master_weights"))) / bandwidth
    micro_time = compute + per_micro
    pipeline = micro_time * (micro + (layout.pp - 1) / layout.virtual_stages)
    step = pipeline + exposed.get("dp", 0.0) + update
    hardware = model_flops + 2.0 * recomputed * global_batches
    return StepTime(
        step_time_s=step, microbatch_s=micro_time, compute_s=compute, communication_s=exposed,
        bubble_s=micro_time * (layout.pp - 1) / layout.virtual_stages, update_s=update,
        training_flops=model_flops, hardware_flops=hardware, tokens_per_step=tokens, flops_6nd=flops_6nd,
        mfu=model_flops / (step * devices * peak), hfu=hardware / (step * devices * peak), devices=devices,
        memory=states,
    )


def require_numbers(report: Report) -> None:
    """The step-time model works in numbers: a report with free params is an error naming them."""
    free = [name for name, value in report.params.items() if getattr(value, "free_symbols", None)]  # 1/10 is bound
    if free:
        one = len(free) == 1
        raise ArchspecError(
            f"the step time models numbers, and {', '.join(free)} {'is' if one else 'are'} free: bind "
            f"{'it' if one else 'them'} (--set {free[0]}=N); formulas of the costs come from archspec formula, "
            "a decode-time bound with a free batch from archspec roofline --decode")


def _in_bf16(row, stacked: bool) -> float:
    """MACs of one row that an fp8 training recipe runs in bf16: the attention core's products,
    and in a network of blocks every product outside them (embedding, output head); fp8 covers
    the blocks' linear layers (Transformer Engine's recipe; DeepSeek-V3, sec. 3.3.1)."""
    if stacked and len(row.path) < 2:
        return float(row.macs)
    if row.type in ATTENTION:
        return float(row.layer.parts(*row.input_shapes).score_macs() * row.times)
    return 0.0


def _recomputed_macs(row, recompute: str) -> float:
    """The matrix-product MACs of one micro-batch that `recompute` runs again in `row`."""
    if recompute in ("full", "per-block"):
        return float(row.macs)
    if recompute == "selective" and row.type in ATTENTION:
        return float(row.layer.parts(*row.input_shapes).score_macs() * row.times)
    return 0.0


def _links(layout: Layout, device: Device, efficiency: Efficiency) -> dict[str, float]:
    """Bytes per second each parallel dimension's traffic runs at: within the node while its
    group fits there (tensor, then context and expert inside it), across nodes otherwise."""
    intra, inter = device.intra_node_bandwidth * efficiency.link, device.inter_node_bandwidth * efficiency.link
    node = layout.devices_per_node
    tp, cp, ep = int(layout.tp), int(layout.cp), int(layout.ep)
    return {
        "tp": intra if tp <= node else inter,
        "cp": intra if tp * cp <= node else inter,
        "ep": intra if tp * ep <= node else inter,
        "pp": intra if tp * cp * int(layout.dp) * layout.pp <= node else inter,
        "dp": intra if int(layout.devices) <= node else inter,
        "ep_node": intra,
    }
