"""Tensor ops that move or select data: Pad, Roll, Stack, Repeat, IndexSelect, Gather, Take,
Cumsum, TopK, Sort.

Data movement is not a FLOP: padding, rolling, stacking, repeating and indexing cost
nothing. Cumsum adds, TopK and Sort compare (costs below). The indexing ops keep their
int64 index for backward (to scatter the gradient), TopK and Sort their indices.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from archspec.dims import Value, definitely_equal, is_concrete, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Dim,
    Layer,
    Saved,
    Shape,
    Size,
    format_shape,
    int_list,
    normalize_dim,
    real,
)


@register
class Pad(Layer):
    """F.pad: `pad` lists amounts per side from the last dim backwards, as torch does:
    [left, right] pads the last dim, [left, right, top, bottom] the last two, ...
    Output dims grow by their two amounts. No cost; reflect needs an amount below the dim.
    """

    type: Literal["Pad"]
    default_call = "function"
    pad: int_list(-(2**63), "amounts per side, last dim first: [left, right, top, bottom, ...]; negative crops")
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    value: real() = Field(0.0, description="the fill value of constant padding")

    @model_validator(mode="after")
    def _pairs(self) -> "Pad":
        if len(self.pad) % 2:
            raise ValueError(f"pad needs pairs of amounts (before, after) per dim, found {len(self.pad)} values")
        return self

    def output_shape(self, x: Shape) -> Shape:
        pairs = len(self.pad) // 2
        if pairs > len(x):
            raise LayerError(f"pad has amounts for {pairs} dims, the input has {len(x)}")
        out = list(x)
        for i in range(pairs):
            dim = len(x) - 1 - i
            before, after = self.pad[2 * i], self.pad[2 * i + 1]
            if self.mode == "reflect" and is_concrete(x[dim]) and is_concrete(before) and max(before, after) >= x[dim]:
                raise LayerError(f"reflect padding of {max(before, after)} needs a dim larger than that, found {x[dim]}")
            out[dim] = x[dim] + before + after
            if is_concrete(out[dim]) and out[dim] < 1:
                raise LayerError(f"padding by {before} and {after} leaves {out[dim]} elements of dim {dim} (size {x[dim]})")
        return tuple(out)


@register
class Roll(Layer):
    """torch.roll: elements shifted cyclically by `shifts` along `dims` (Swin's shifted
    windows). Shape kept; no cost."""

    type: Literal["Roll"]
    default_call = "function"
    # any integer, negative included: a shift changes no count, only where elements land
    shifts: int_list(-(2**63), "one shift per dim (negative: backwards), e.g. -(window // 2)")
    dims: list[int] = Field(min_length=1, description="the dims to roll")

    @model_validator(mode="after")
    def _one_shift_per_dim(self) -> "Roll":
        if len(self.shifts) != len(self.dims):
            raise ValueError(f"{len(self.shifts)} shifts for {len(self.dims)} dims")
        return self

    def output_shape(self, x: Shape) -> Shape:
        for dim in self.dims:
            normalize_dim(dim, len(x), "dims")
        return x


@register
class Stack(Layer):
    """torch.stack: inputs of the same shape joined along a new dim `dim`. No cost."""

    type: Literal["Stack"]
    default_call = "function"
    dim: Dim = 0
    arity: ClassVar[tuple[int, int | None]] = (1, None)

    def output_shape(self, *inputs: Shape) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if len(other) != len(first) or not all(map(definitely_equal, first, other)):
                raise LayerError(f"stack needs inputs of one shape, found {', '.join(format_shape(s) for s in inputs)}")
        dim = normalize_dim(self.dim, len(first) + 1)
        return (*first[:dim], len(inputs), *first[dim:])


@register
class Repeat(Layer):
    """Tensor.repeat (torch.tile): each dim times its count; extra leading counts add dims.
    A copy; no cost."""

    type: Literal["Repeat"]
    default_call = "function"
    repeats: int_list(1, "one count per dim (at least the input's rank)")

    def output_shape(self, x: Shape) -> Shape:
        if len(self.repeats) < len(x):
            raise LayerError(f"repeats has {len(self.repeats)} counts for a {len(x)}-D input (give one per dim)")
        padded = (1,) * (len(self.repeats) - len(x)) + tuple(x)
        return tuple(size * count for size, count in zip(padded, self.repeats))


class _Indexing(Layer):
    """Selects with an int64 index tensor (the second input); keeps the index for backward."""

    default_call = "function"
    arity: ClassVar[tuple[int, int | None]] = (2, 2)

    def saved_for_backward(self, x: Shape, index: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=1),)


@register
class IndexSelect(_Indexing):
    """torch.index_select(x, dim, index): inputs [x, index], index 1-D; dim `dim` becomes
    len(index). No cost."""

    type: Literal["IndexSelect"]
    dim: Dim = 0

    def output_shape(self, x: Shape, index: Shape) -> Shape:
        if len(index) != 1:
            raise LayerError(f"index_select takes a 1-D index, found {format_shape(index)}")
        dim = normalize_dim(self.dim, len(x))
        return (*x[:dim], index[0], *x[dim + 1 :])


@register
class Gather(_Indexing):
    """torch.gather(x, dim, index): inputs [x, index] of the same rank; the output has the
    index's shape. No cost."""

    type: Literal["Gather"]
    dim: Dim = 0

    def output_shape(self, x: Shape, index: Shape) -> Shape:
        if len(index) != len(x):
            raise LayerError(f"gather needs an index of the input's rank {len(x)}, found {format_shape(index)}")
        dim = normalize_dim(self.dim, len(x))
        for d, (size, limit) in enumerate(zip(index, x)):
            if d != dim and is_concrete(size) and is_concrete(limit) and size > limit:
                raise LayerError(f"gather's index {format_shape(index)} is larger than the input {format_shape(x)} at dim {d}")
        return index


@register
class Take(_Indexing):
    """x[index] with an integer index tensor of any shape, along dim 0 (a relative-position
    bias table looked up by its index buffer): index.shape + x.shape[1:]. No cost."""

    type: Literal["Take"]
    default_call = "operator"

    def output_shape(self, x: Shape, index: Shape) -> Shape:
        if len(x) < 1:
            raise LayerError("cannot index a 0-D tensor")
        return (*index, *x[1:])


def _rows_along(x: Shape, dim_arg: int) -> tuple[int, Value, Value]:
    """The dim's index, its size F, and the rows along it (every other element position)."""
    dim = normalize_dim(dim_arg, len(x))
    return dim, x[dim], product((*x[:dim], *x[dim + 1 :]))


@register
class Cumsum(Layer):
    """torch.cumsum along `dim`: other FLOPs = (F - 1) adds per row of F elements. Keeps
    nothing for backward (its gradient is a reversed cumsum)."""

    type: Literal["Cumsum"]
    default_call = "function"
    dim: Dim

    def output_shape(self, x: Shape) -> Shape:
        normalize_dim(self.dim, len(x))
        return x

    def other_flops(self, x: Shape, out: Shape) -> Value:
        _, size, rows = _rows_along(x, self.dim)
        return rows * (size - 1)


@register
class TopK(Layer):
    """torch.topk: outputs `name.0` values and `name.1` int64 indices, `k` along `dim`.
    Other FLOPs = k * (F - 1) comparisons per row (k passes of a maximum, the convention of
    the MoE router); keeps the indices for backward."""

    type: Literal["TopK"]
    default_call = "function"
    k: Size
    dim: Dim = -1

    def output_shapes(self, x: Shape) -> tuple[Shape, ...]:
        dim, size, _ = _rows_along(x, self.dim)
        if is_concrete(self.k) and is_concrete(size) and self.k > size:
            raise LayerError(f"k={self.k} is more than the {size} elements along dim {self.dim}")
        out = (*x[:dim], self.k, *x[dim + 1 :])
        return (out, out)

    def output_shape(self, x: Shape) -> Shape:
        raise LayerError("TopK has two outputs: values (name.0) and indices (name.1)")

    def other_flops(self, x: Shape, out) -> Value:
        _, size, rows = _rows_along(x, self.dim)
        return rows * self.k * (size - 1)

    def saved_for_backward(self, x: Shape, out) -> tuple[Saved, ...]:
        return (Saved(numel=product(out[1]), dtype="int64"),)


@register
class Sort(Layer):
    """torch.sort: outputs `name.0` sorted values and `name.1` int64 indices along `dim`.
    Other FLOPs = F * ceil(log2 F) comparisons per row (a comparison sort's bound); keeps
    the indices for backward."""

    type: Literal["Sort"]
    default_call = "function"
    dim: Dim = -1
    descending: bool = False

    def output_shapes(self, x: Shape) -> tuple[Shape, ...]:
        normalize_dim(self.dim, len(x))
        return (x, x)

    def output_shape(self, x: Shape) -> Shape:
        raise LayerError("Sort has two outputs: values (name.0) and indices (name.1)")

    def other_flops(self, x: Shape, out) -> Value:
        _, size, rows = _rows_along(x, self.dim)
        if not is_concrete(size):
            raise LayerError("Sort needs a concrete size along its dim to count its comparisons")
        return rows * size * log2_ceil(size)

    def saved_for_backward(self, x: Shape, out) -> tuple[Saved, ...]:
        return (Saved(numel=product(x), dtype="int64"),)


def log2_ceil(n: int) -> int:
    """ceil(log2 n) for n >= 1 (0 for 1)."""
    return (n - 1).bit_length()

