"""Joining and splitting tensors: Concat, and Split/Chunk into several."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.dims import Value, ceildiv, definitely_equal, is_concrete, total
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Dim,
    Layer,
    Shape,
    Size,
    SizeOrList,
    format_shape,
    normalize_dim,
)
from archspec.limits import active


@register
class Concat(Layer):
    """Joins inputs along `dim` (torch.cat); the other dims must match. No cost."""

    type: Literal["Concat"]
    default_call = "function"
    dim: Dim = 1
    arity: ClassVar[tuple[int, int | None]] = (1, None)

    def output_shape(self, *inputs: Shape) -> Shape:
        first = inputs[0]
        dim = normalize_dim(self.dim, len(first))
        for other in inputs[1:]:
            same = len(other) == len(first) and all(
                i == dim or definitely_equal(a, b) for i, (a, b) in enumerate(zip(first, other))
            )
            if not same:
                listed = ", ".join(format_shape(s) for s in inputs)
                raise LayerError(f"cannot concatenate {listed} along dim {self.dim}: the other dims must match")
        return (*first[:dim], total(s[dim] for s in inputs), *first[dim + 1 :])


class _Split(Layer):
    dim: Dim = 0  # torch.split and torch.chunk split dim 0 unless told
    view = True

    def output_shape(self, x: Shape) -> Shape:
        raise LayerError(f"{self.type} has several outputs")

    def _sizes(self, size: Value) -> list[Value]:
        raise NotImplementedError

    def output_shapes(self, x: Shape) -> tuple[Shape, ...]:
        dim = normalize_dim(self.dim, len(x))
        return tuple((*x[:dim], part, *x[dim + 1 :]) for part in self._sizes(x[dim]))


@register
class Split(_Split):
    """Splits along `dim` (torch.split): into pieces of `split_size_or_sections` (the
    last one smaller), or into the listed sizes, which must sum to the dim. Outputs
    are used as `name.0`, `name.1`, ... No cost (views).
    """

    type: Literal["Split"]
    default_call = "function"
    split_size_or_sections: SizeOrList = Field(description="a piece size, or the list of piece sizes")

    def _sizes(self, size: Value) -> list[Value]:
        sections = self.split_size_or_sections
        if isinstance(sections, tuple):
            if not definitely_equal(total(sections), size):
                raise LayerError(f"split sizes {list(sections)} sum to {total(sections)}, but the dim has size {size}")
            return list(sections)
        if not (is_concrete(size) and is_concrete(sections)):
            raise LayerError("split_size_or_sections with a free size: list the sections instead")
        _check_pieces(self.type, ceildiv(size, sections))
        return [min(sections, size - start) for start in range(0, size, sections)]


@register
class Chunk(_Split):
    """Splits along `dim` into `chunks` pieces of ceil(size / chunks) (torch.chunk; the
    last may be smaller, and there may be fewer pieces). Outputs are `name.0`, ... No cost.
    """

    type: Literal["Chunk"]
    default_call = "function"
    chunks: Size

    def _sizes(self, size: Value) -> list[Value]:
        piece = ceildiv(size, self.chunks)
        if definitely_equal(piece * self.chunks, size):
            if not is_concrete(self.chunks):
                raise LayerError("chunks must be a number")
            _check_pieces(self.type, self.chunks)
            return [piece] * self.chunks
        if not is_concrete(size):
            raise LayerError(f"cannot tell that {size} is divisible by {self.chunks}; torch.chunk's pieces depend on it")
        _check_pieces(self.type, ceildiv(size, piece))
        return [min(piece, size - start) for start in range(0, size, piece)]


def _check_pieces(layer_type: str, count: int) -> None:
    """Each piece is an output tensor the spec may name, as a layer's output: at most max_layers."""
    most = active().max_layers
    if count > most:
        raise LayerError(f"{layer_type} makes {count:,} pieces; at most {most:,}, as many as a spec's layers "
                         "(--limit max_layers)")
