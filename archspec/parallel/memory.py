"""Per-device memory and communication of a training step under a parallel layout.

Every figure is bytes on one device (a rank of each parallel group), exact or a formula:
weights, gradients, optimizer state and master weights of the parameters its layers hold
(tensor parallelism splits them as each layer says, expert parallelism the routed
experts, ZeRO the states over data parallelism), the saved activations of its pipeline
stage for every micro-batch in flight, and what it sends per step (docs/parallel.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from archspec.dims import Value, as_plain, ceildiv, is_concrete, maximum, product, total
from archspec.errors import LayerError
from archspec.memory import OPTIMIZER_STATES, MemoryOptions, _bytes, storage_bytes
from archspec.parallel.layout import Layout, LayoutError
from archspec.parallel.pipeline import in_flight, stage_fractions, units_of
from archspec.parallel.tensor import RowPlan, plan_rows
from archspec.report import Report

COMPONENTS = ("weights", "buffers", "gradients", "optimizer", "master_weights", "saved_activations", "total")
ATTENTION = ("Attention", "LatentAttention", "MultiheadAttention")


@dataclass
class ParallelMemory:
    """Per-device memory by pipeline stage and device class, and communication per step."""

    layout: Layout
    stages: list[dict[str, Value]]
    devices: dict[str, dict[str, Value]]  # first_stage, last_stage, most_loaded
    most_loaded_stage: int | None  # None: formulas, each most_loaded figure the largest over the stages
    communication: dict[int, dict[str, dict[str, Value]]] = field(default_factory=dict)  # stage -> dim -> kind -> bytes

    def to_dict(self) -> dict[str, Any]:
        from archspec.report import _json_value

        def plain(values: dict[str, Value]) -> dict[str, Any]:
            return {key: _json_value(value) for key, value in values.items()}

        comm = self.communication.get(self.most_loaded_stage or 0, {})
        return {
            "layout": {name: _json_value(getattr(self.layout, name)) if not isinstance(getattr(self.layout, name), (bool, str, type(None))) else getattr(self.layout, name)
                       for name in self.layout.__dataclass_fields__},
            "devices": self.layout.devices if is_concrete(self.layout.devices) else str(self.layout.devices),
            "per_device": {name: plain(values) for name, values in self.devices.items()},
            "most_loaded_stage": self.most_loaded_stage,
            "stages": [plain(values) for values in self.stages],
            "communication": {dim: plain(kinds) for dim, kinds in comm.items()},
        }


def parallel_memory(report: Report, options: MemoryOptions, layout: Layout) -> ParallelMemory:
    """The per-device memory and communication of one training step (see the module docstring)."""
    from dataclasses import replace

    options = replace(options, layout=None)
    options.check()
    layout.check()
    plans, split = plan_rows(report, layout)
    shares = stage_fractions(report, layout)
    stages = [_stage(report, options, layout, plans, split, shares, device) for device in range(layout.pp)]
    loaded = _most_loaded(stages)
    communication = {device: _communication(report, options, layout, plans, shares, device) for device in range(layout.pp)}
    if loaded is None:  # formulas: which stage holds the most depends on the free params
        import sympy

        most = {key: as_plain(sympy.Max(*(stage[key] for stage in stages))) for key in COMPONENTS}
    else:
        most = {**stages[loaded]}
    devices = {"first_stage": stages[0], "last_stage": stages[-1], "most_loaded": most}
    return ParallelMemory(layout, stages, devices, loaded, communication)


def _divide(value: Value, by: Value) -> Value:
    """An even share: value / by, rounded up for numbers (a rank holds whole elements)."""
    if by == 1:
        return value
    if isinstance(value, int) and isinstance(by, int):
        return ceildiv(value, by)
    return as_plain(value / by)


def _stage(report, options, layout, plans: list[RowPlan], split, shares, device: int) -> dict[str, Value]:
    dense = total(plan.params * share.get(device, 0) for plan, share, row in zip(plans, shares, report.layers) if row.experts is None)
    experts = total(plan.params * share.get(device, 0) for plan, share, row in zip(plans, shares, report.layers) if row.experts is not None)
    buffers = total(
        _bytes(row.buffers, options.dtype if row.buffer_dtype == "activation" else row.buffer_dtype) * share.get(device, 0)
        for row, share in zip(report.layers, shares) if row.buffers
    )
    data_group = layout.dp * layout.cp
    expert_group = _divide(data_group, layout.ep)

    def sharded(params: Value, dtype: str | None, shard: bool, group: Value) -> Value:
        if not dtype:
            return 0
        return _divide(_bytes(params, dtype), group) if shard else _bytes(params, dtype)

    def states(dtype: str | None, shard: bool) -> Value:
        return as_plain(sharded(dense, dtype, shard, data_group) + sharded(experts, dtype, shard, expert_group))

    weights = states(options.dtype, layout.zero == 3)
    gradients = states(options.grad_dtype or options.dtype, layout.zero >= 2)
    optimizer = as_plain(OPTIMIZER_STATES[options.optimizer] * states(options.optimizer_dtype, layout.shards_optimizer))
    master = states(options.master_dtype, layout.shards_optimizer)
    saved = _saved(report, options, layout, split, shares, device)
    values = {
        "weights": weights, "buffers": as_plain(buffers), "gradients": gradients, "optimizer": optimizer,
        "master_weights": master, "saved_activations": saved,
    }
    values["total"] = as_plain(total(values.values()))
    return values


def _activation_bytes(report, options, layout, split, storage: int) -> Value:
    """One device's bytes of an activation storage: split by tensor parallelism (or along the
    sequence with sequence parallelism) and along the sequence by context parallelism."""
    whole = storage_bytes(report, storage, options)
    divisor = layout.cp
    if layout.tp != 1 and (split.get(storage) or layout.sp):
        divisor = divisor * layout.tp
    return _divide(whole, divisor)


def _saved(report, options, layout, split, shares, device: int) -> Value:
    """Saved activations of one micro-batch on this device, times the micro-batches in flight;
    selective recomputation drops the attention core's tensors; full (and per-block)
    recomputation keeps each layer's input and, during backward, one layer's tensors."""
    owner: dict[int, int] = {}
    for index, row in enumerate(report.layers):
        for storage in row.saved:
            owner.setdefault(storage, index)
    drop_core = layout.recompute == "selective"
    per_row: list[list[Value]] = [[] for _ in report.layers]
    for storage, index in owner.items():
        if drop_core and report.storages[storage].core:
            continue
        per_row[index].append(_activation_bytes(report, options, layout, split, storage))
    per_row = [[as_plain(v) for v in values] for values in per_row]
    flight = in_flight(device, layout)
    if layout.recompute in ("none", "selective"):
        kept = total(total(values) * shares[i].get(device, 0) for i, values in enumerate(per_row))
        return _whole(kept * flight)
    # recompute each layer of the stack: keep its input, rebuild one layer at a time in backward
    units = set(units_of(report))
    kept, working, groups = [], 0, {}
    for i, row in enumerate(report.layers):
        share = shares[i].get(device, 0)
        key = next((row.path[:n] for n in (2, 1) if row.path[:n] in units), None)
        if key is None:
            kept.append(total(per_row[i]) * share)
        else:
            groups.setdefault(key, []).append(i)
    for key, rows in groups.items():
        share = shares[rows[0]].get(device, 0)
        if not share:
            continue
        first = report.layers[rows[0]]
        kept += [_activation_bytes(report, options, layout, split, storage) * share for storage in first.input_storages[:1]]
        block = total(total(per_row[i]) for i in rows)
        working = block if working == 0 else maximum(working, block)
    return _whole(total(kept) * flight + working)


def _whole(value: Value) -> Value:
    """Bytes as an integer (an interleaved schedule's factor is a fraction): rounded up."""
    if isinstance(value, Fraction):
        return ceildiv(value.numerator, value.denominator)
    if getattr(value, "is_Rational", False) and not getattr(value, "is_Integer", False):
        return ceildiv(int(value.p), int(value.q))
    return as_plain(value)


def _most_loaded(stages: list[dict[str, Value]]) -> int | None:
    """The stage with the largest total; None when the totals are formulas (and stages differ):
    the most loaded device's figures are then each the largest over the stages."""
    totals = [stage["total"] for stage in stages]
    if len(stages) == 1:
        return 0
    if not all(is_concrete(value) for value in totals):
        return None
    return max(range(len(totals)), key=lambda i: (totals[i], -i))


# ---- communication --------------------------------------------------------------------------
# bytes a device sends per element of the full tensor over n ranks (ring algorithms)
VOLUME = {
    "all_reduce": lambda n: (2 * (n - 1), n),
    "all_gather": lambda n: (n - 1, n),
    "reduce_scatter": lambda n: (n - 1, n),
    "all_to_all": lambda n: (n - 1, n),
    "p2p": lambda n: (1, 1),
}


def _volume(kind: str, elements: Value, dtype_bytes: Value, group: Value) -> Value:
    """Bytes one device sends for a collective over `group` ranks of a tensor of `elements`:
    all-reduce 2(n-1)/n M, all-gather, reduce-scatter and all-to-all (n-1)/n M, p2p M."""
    numerator, denominator = VOLUME[kind](group)
    value = elements * dtype_bytes * numerator
    if isinstance(denominator, int) and is_concrete(value):
        from fractions import Fraction

        exact = Fraction(value) / denominator
        return ceildiv(exact.numerator, exact.denominator)
    return as_plain(value / denominator)


def _communication(report, options, layout, plans, shares, device: int) -> dict[str, dict[str, Value]]:
    from archspec.memory import BYTES

    act = BYTES[options.dtype]
    grad = BYTES[options.grad_dtype or options.dtype]
    m = layout.microbatches
    events: dict[str, dict[str, list[Value]]] = {}

    def add(dim: str, kind: str, value: Value) -> None:
        events.setdefault(dim, {}).setdefault(kind, []).append(value)

    repeat_forward = layout.recompute in ("full", "per-block")
    for row, plan, share in zip(report.layers, plans, shares):
        part = share.get(device, 0)
        if not part:
            continue
        for c in plan.collectives:
            passes = 2 if repeat_forward and c.pass_ == "forward" else 1
            add("tp", c.kind, _volume(c.kind, c.elements, act, layout.tp) * part * passes * m)
        if layout.cp != 1 and row.type in ATTENTION and not row.idle:
            chunk = _kv_chunk(row, layout)
            add("cp", "p2p", chunk * act * (layout.cp - 1) * 3 * part * m)  # forward: cp-1 chunks; backward: K,V and dK,dV
        if layout.ep != 1 and row.type == "MoE":
            # dispatch and combine, forward and backward: four transfers of the routed tokens
            for dim, kind, sent in _expert_dispatch(row, layout, act):
                add(dim, kind, sent * 4 * part * m)
    _pipeline(report, layout, shares, device, act, add)
    _data_parallel(report, options, layout, plans, shares, device, grad, add)
    return {dim: {kind: as_plain(total(values)) for kind, values in kinds.items()} for dim, kinds in events.items()}


def _expert_dispatch(row, layout, act: Value) -> list[tuple[str, str, Value]]:
    """Bytes one device sends to move its routed tokens to their experts, once.

    "expert" dispatch: an all-to-all of the T*k routed tokens over the ep ranks. "node"
    dispatch, when the ep group spans N nodes of g ranks: a token crosses to each remote
    node holding any of its experts once, n_N (N - 1)/N times for n_N = the expected
    distinct nodes of its experts (MoE.destinations), and reaches each expert's device
    inside a node over the node's links, n_ep (g - 1)/g times (dim ep_node)."""
    routed = _divide(product(row.output_shapes[0]) * row.times, layout.cp)
    node = layout.devices_per_node
    if layout.ep_dispatch == "expert":
        return [("ep", "all_to_all", _volume("all_to_all", routed, act, layout.ep))]
    if not all(isinstance(v, int) for v in (layout.tp, layout.ep)):
        raise LayoutError(f"node-limited dispatch needs tp and ep as numbers (it counts nodes), found tp={layout.tp}, ep={layout.ep}")
    if layout.tp * layout.ep <= node:  # one node: the all-to-all over the node's links
        return [("ep", "all_to_all", _volume("all_to_all", routed, act, layout.ep))]
    if (layout.tp * layout.ep) % node:
        raise LayoutError(f"node-limited dispatch needs tp * ep = {layout.tp * layout.ep} to fill whole nodes of {node} devices")
    nodes = layout.tp * layout.ep // node
    ranks = layout.ep // nodes
    tokens = _divide(routed, row.layer.top_k)
    try:
        across = row.layer.destinations(nodes) * (nodes - 1) / nodes
        within = row.layer.destinations(layout.ep) * (ranks - 1) / ranks
    except LayerError as exc:
        raise LayoutError(f"{row.name} (MoE): {exc}") from None
    return [("ep", "all_to_all", _whole_bytes(tokens * act * across)), ("ep_node", "forward", _whole_bytes(tokens * act * within))]


def _whole_bytes(value: Value) -> Value:
    """An expected byte count rounded up to whole bytes (kept as a formula when it is one)."""
    if isinstance(value, (int, Fraction)):
        return ceildiv(value.numerator, value.denominator)
    return as_plain(value)


def _kv_chunk(row, layout) -> Value:
    """Elements of one rank's K and V chunk in ring attention: its L/cp keys, its heads."""
    parts = row.layer.parts(*row.input_shapes)
    heads = _divide(parts.kv_heads if row.type != "LatentAttention" else parts.heads, layout.tp)
    return as_plain(row.times * parts.lead * _divide(parts.keys, layout.cp) * heads * (parts.head_dim + parts.value_head_dim))


def _pipeline(report, layout, shares, device: int, act: Value, add) -> None:
    """Point-to-point between stages, per micro-batch: the activation forward, its gradient backward."""
    if layout.pp == 1:
        return
    boundary = _boundary_elements(report, shares)
    divisor = layout.cp * layout.tp  # Megatron's scatter/gather: each tp rank sends 1/tp (all-gathered on the node)
    sends = (device < layout.pp - 1) + (device > 0)  # forward to the next stage, gradient to the previous one
    add("pp", "p2p", as_plain(_divide(boundary, divisor) * act * sends * layout.microbatches * layout.virtual_stages))


def _boundary_elements(report, shares) -> Value:
    """Elements of the tensor a stage passes to the next: a layer of the stack's input."""
    for row in report.layers:
        if _is_stack(row):
            return product(row.input_shapes[0])
    return product(report.layers[-1].output_shapes[0])


def _is_stack(row) -> bool:
    return len(row.path) >= 2


def _data_parallel(report, options, layout, plans, shares, device: int, grad: Value, add) -> None:
    """Per step: gradients all-reduced over dp * cp ranks; with ZeRO-1/2 or the distributed
    optimizer reduce-scattered, and the parameters all-gathered after the update; ZeRO-3
    gathers the parameters for each micro-batch's forward and backward instead."""
    from archspec.memory import BYTES

    param_bytes = BYTES[options.dtype]
    for routed, group in ((False, layout.dp * layout.cp), (True, _divide(layout.dp * layout.cp, layout.ep))):
        params = total(
            plan.params * share.get(device, 0)
            for plan, share, row in zip(plans, shares, report.layers)
            if (row.experts is not None) == routed
        )
        if group == 1 or params == 0:
            continue
        if layout.zero == 3:
            add("dp", "reduce_scatter", _volume("reduce_scatter", params, grad, group))
            add("dp", "all_gather", as_plain(_volume("all_gather", params, param_bytes, group) * 2 * layout.microbatches))
        elif layout.shards_optimizer:
            add("dp", "reduce_scatter", _volume("reduce_scatter", params, grad, group))
            add("dp", "all_gather", _volume("all_gather", params, param_bytes, group))
        else:
            add("dp", "all_reduce", _volume("all_reduce", params, grad, group))
