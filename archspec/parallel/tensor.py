"""Tensor (and sequence) parallelism over a report's rows: which tensors are split across the
tp ranks, what each rank holds, and the collectives each layer needs.

Each layer says how it runs (`Layer.tensor_parallel`: replicate, elementwise, column, row,
heads, vocab); this module follows the tensors through the graph in order. A tensor is
split (its last dim, or its heads, divided over the ranks) when a column-parallel layer
makes it, or an elementwise one on split inputs; everything else is replicated. Per
micro-batch, with M the full tensor's elements (docs/parallel.md):

- a layer that needs a replicated input but gets a split one: all-gather M forward;
- column and heads layers on a replicated input: all-reduce of its gradient backward
  (once per input, however many layers read it: Megatron fuses them);
- row, heads and vocab layers: all-reduce of the output forward;
- with sequence parallelism the replicated tensors are split along the sequence instead:
  column and heads layers all-gather their input forward, and backward reduce-scatter its
  gradient and all-gather it again (for the weight gradient); row, heads and vocab layers
  reduce-scatter their output forward and all-gather its gradient backward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archspec.dims import Value, as_plain, ceildiv, product
from archspec.errors import LayerError
from archspec.layers.base import shard
from archspec.parallel.layout import Layout, LayoutError
from archspec.report import LayerRow, Report

NEEDS_REPLICATED = ("replicate", "column", "heads", "vocab")


@dataclass(frozen=True)
class Collective:
    """One collective (or point-to-point transfer) of `elements` elements of the full tensor,
    per micro-batch: `kind` all_reduce, all_gather, reduce_scatter, all_to_all or p2p; `pass_`
    forward or backward; `dim` the parallel dimension (tp, cp, pp, dp, ep)."""

    dim: str
    kind: str
    elements: Value
    pass_: str
    dtype: str = "activation"


@dataclass
class RowPlan:
    """How one row runs under the layout: the params one device holds, whether its outputs are
    split, and its collectives per micro-batch."""

    params: Value
    split_outputs: bool = False
    collectives: list[Collective] = field(default_factory=list)
    kind: str = "replicate"  # the layer's tensor-parallel kind (archspec.layers.base.TensorParallel)

    @property
    def splits_work(self) -> bool:
        """Whether tensor parallelism divides the layer's work over the ranks."""
        return self.kind in ("column", "row", "heads", "vocab") or (self.kind == "elementwise" and self.split_outputs)


def plan_rows(report: Report, layout: Layout) -> tuple[list[RowPlan], dict[int, bool]]:
    """Each row's plan, and for each activation storage whether tensor parallelism splits it."""
    tp = layout.tp
    split: dict[int, bool] = {}
    reduced: set[int] = set()  # replicated inputs whose gradient all-reduce is counted already
    gathered: set[int] = set()
    plans = []
    for row in report.layers:
        try:
            plan = _plan(row, layout, split, reduced, gathered) if tp != 1 else RowPlan(row.params)
            plan.params = _experts(row, plan.params, layout)
        except LayerError as exc:
            raise LayoutError(f"{row.name} ({row.type}): {exc}") from None
        for storage in row.output_storages:
            split.setdefault(storage, plan.split_outputs)
        for storage in row.saved:
            info = report.storages[storage]
            if storage not in split and not info.parameter:
                split[storage] = plan.split_outputs if info.split is None else info.split
        plans.append(plan)
    return plans, split


def _plan(row: LayerRow, layout: Layout, split: dict[int, bool], reduced: set[int], gathered: set[int]) -> RowPlan:
    layer = row.layer
    incoming = tuple(split.get(storage, False) for storage in row.input_storages)
    rule = layer.tensor_parallel(layout.tp, incoming, *row.input_shapes)
    times = row.times
    plan = RowPlan(_scaled(rule.params, row, layer), kind=rule.kind)
    numel = [product(shape) for shape in row.input_shapes]
    kind = rule.kind
    to_gather = [i for i, is_split in enumerate(incoming) if is_split]
    if kind == "row":
        to_gather = [i for i in to_gather if i != 0]
    if kind == "elementwise" and incoming and all(incoming):
        to_gather = []
        plan.split_outputs = True
    for i in to_gather:  # a replicated layer needs the whole tensor
        plan.collectives.append(Collective("tp", "all_gather", times * numel[i], "forward"))
    plan.split_outputs = plan.split_outputs or kind == "column"
    if kind in ("column", "heads"):
        storage = row.input_storages[0]
        if layout.sp:
            if storage not in gathered:
                gathered.add(storage)
                plan.collectives += [
                    Collective("tp", "all_gather", times * numel[0], "forward"),
                    Collective("tp", "reduce_scatter", times * numel[0], "backward"),
                    Collective("tp", "all_gather", times * numel[0], "backward"),
                ]
        elif storage not in reduced:
            reduced.add(storage)
            plan.collectives.append(Collective("tp", "all_reduce", times * numel[0], "backward"))
    if kind in ("row", "heads", "vocab"):
        out = times * product(row.output_shapes[0])
        if layout.sp:
            plan.collectives += [Collective("tp", "reduce_scatter", out, "forward"), Collective("tp", "all_gather", out, "backward")]
        else:
            plan.collectives.append(Collective("tp", "all_reduce", out, "forward"))
    return plan


def _scaled(per_rank: Value, row: LayerRow, layer: Any) -> Value:
    """The rule's params for one application scaled as the row is (weight tying, routed
    experts, a free repeat): per_rank * row.params / (the layer's own params)."""
    whole = layer.param_count(*row.input_shapes)
    if whole == row.params:
        return per_rank
    if whole == 0:
        return 0
    if isinstance(per_rank, int) and isinstance(row.params, int) and isinstance(whole, int):
        return ceildiv(per_rank * row.params, whole)
    return as_plain(per_rank * row.params / whole)


def _experts(row: LayerRow, params: Value, layout: Layout) -> Value:
    """A routed expert's weights are split over the expert-parallel ranks."""
    if row.experts is None or layout.ep == 1:
        return params
    experts, _ = row.experts
    shard(experts, layout.ep, f"num_experts={experts} must be divisible by ep={layout.ep}")
    return params // layout.ep if isinstance(params, int) and isinstance(layout.ep, int) else as_plain(params / layout.ep)
