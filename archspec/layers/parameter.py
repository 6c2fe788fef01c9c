"""Learned tensors used directly: Parameter (a layer scale, a position embedding, a class token)."""

from __future__ import annotations

from typing import ClassVar, Literal

from archspec.dims import Value, product
from archspec.layers import register
from archspec.layers.base import Layer, Shape, int_list


@register
class Parameter(Layer):
    """A learned tensor of `shape` (torch.nn.Parameter); it takes no input, and other
    layers use it through `from:` (e.g. `{type: Mul, from: [scale, x]}`, broadcast).

    - params = prod(shape); no MACs, no FLOPs
    """

    type: Literal["Parameter"]
    default_call = "function"
    shape: int_list(1, "the tensor's shape")
    arity: ClassVar[tuple[int, int | None]] = (0, 0)

    def output_shape(self) -> Shape:
        return tuple(self.shape)

    def param_count(self) -> Value:
        return product(self.shape)
