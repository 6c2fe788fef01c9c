"""One bound layer applied to input shapes -> one report row: shapes checked, costs counted.

The graph walk (archspec.engine) calls `layer_row` for every layer application; what
a row holds is defined in archspec.report.LayerRow. Counting by another convention, or
with the backward pass, replaces the row's MACs and FLOPs (`Counting`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from archspec.dims import Value, as_plain, definitely_equal, is_concrete, product, total
from archspec.errors import ArchspecError, LayerError
from archspec.layers.base import Layer, Shape, format_shape
from archspec.limits import Limits
from archspec.report import LayerRow

Scope = tuple[tuple[str, str], ...]  # (name, type) of each enclosing block application


def layer_row(layer: Layer, level: Scope, xs: tuple[Shape, ...], limits: Limits) -> LayerRow:
    """The shapes and counts of one layer application (every count for one application)."""
    return LayerRow(path=tuple(name for name, _ in level), types=tuple(type_name for _, type_name in level),
                    **layer_counts(layer, xs, limits))


def layer_counts(layer: Layer, xs: tuple[Shape, ...], limits: Limits) -> dict[str, Any]:
    """A layer application's shapes and counts: a pure function of the bound layer and its
    input shapes (the engine reuses it for every identical application)."""
    outs = tuple(tuple(as_plain(d) for d in shape) for shape in layer.output_shapes(*xs))
    for out in outs:
        for d in out:
            if is_concrete(d) and d < 1:
                raise LayerError(f"the output shape {format_shape(out)} has an empty dimension")
            if is_concrete(d) and d > limits.max_dim:
                raise LayerError(f"the output shape {format_shape(out)} has a dimension beyond {dim_limit(limits)}")
    out = outs[0] if len(outs) == 1 else outs
    macs = as_plain(layer.macs(*xs, out=out))
    params = as_plain(layer.param_count(*xs))
    return dict(
        input_shapes=xs,
        output_shapes=outs,
        params=params,
        active_params=params,
        buffers=as_plain(layer.buffer_count(*xs)),
        buffer_dtype=layer.buffer_dtype(*xs),
        macs=macs,
        flops=as_plain(2 * macs + layer.other_flops(*xs, out=out)),
        # A layer without inputs (Parameter) returns a stored tensor, counted in params.
        activations=total(product(shape) for shape in outs) if xs else 0,
        kv_cache=as_plain(layer.cache_elements(*xs)),
        kv_cache_read=as_plain(layer.cache_read_elements(*xs)),
        weights_read=as_plain(layer.weights_read(*xs)),
    )


def shared_row(row: LayerRow, op: Layer, weight: Shape | None, target: Shape | None) -> LayerRow:
    """The row of a layer that uses another layer's weight: that weight is not counted again."""
    if weight is None:
        raise LayerError(f"{op.type} has no weight to share")
    if target is None:
        raise LayerError(f"shares: {op.shares!r} has no weight to share")
    if len(weight) != len(target) or not all(map(definitely_equal, weight, target)):
        raise LayerError(f"shares: the weight {format_shape(weight)} does not match {op.shares}'s {format_shape(target)}")
    params = as_plain(row.params - product(weight))
    return replace(row, params=params, active_params=params, shares=op.shares)


def idle_row(row: LayerRow) -> LayerRow:
    """A layer that does not run in a decode step (it works on the cached prefill): no cost."""
    return replace(row, macs=0, flops=0, activations=0, kv_cache=0, kv_cache_read=0, weights_read=0, idle=True)


def dim_limit(limits: Limits) -> str:
    return f"the limit of {limits.max_dim:,} (raise it with --limit max_dim=N if you mean it)"


@dataclass(frozen=True)
class Counting:
    """MACs and FLOPs by a convention other than archspec's own, or with the backward pass."""

    convention: Any  # archspec.conventions.Convention
    backward: bool
    inputs_without_grad: frozenset[int]  # storages of the spec inputs that need no gradient
    batch: Any  # the first dim of the spec's first input

    def recount(self, row: LayerRow, op: Layer, storages: tuple[int, ...]) -> LayerRow:
        macs, flops = self.counts(row, op, storages)
        return replace(row, macs=macs, flops=flops)

    def counts(self, row: LayerRow, op: Layer, storages: tuple[int, ...]) -> tuple[Value, Value]:
        """The row's MACs and FLOPs by this convention (op: its bound layer; storages: its inputs')."""
        from archspec.conventions import Facts

        without_grad = tuple(storage in self.inputs_without_grad for storage in storages)
        facts = Facts(op, row.input_shapes, row.output_shapes, op.call or op.default_call, without_grad, self.batch)
        cost = self.convention.cost(facts)
        flops = cost.flops + (self.convention.backward(facts, cost) if self.backward else 0)
        return as_plain(cost.macs), as_plain(flops)


def chosen_convention(name: str | None, backward: bool):
    """The convention to count with, or None for archspec's own forward counts."""
    if name is None and not backward:
        return None
    from archspec.conventions import CONVENTIONS, get_convention

    convention = get_convention(name or "archspec")
    if backward and convention.backward is None:
        raise ArchspecError(
            f"the {convention.name} convention counts the forward pass only ({convention.peer} has no backward "
            "count); --backward works with: "
            + ", ".join(c.name for c in CONVENTIONS.values() if c.backward is not None)
        )
    return convention
