"""Stored tensors used directly: Parameter (learned: a layer scale, a position embedding, a class
token) and Buffer (not learned: a relative-position index, a fixed position table, a mask)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

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


@register
class Buffer(Layer):
    """A stored tensor that is not learned (a module buffer, e.g. Swin's
    relative_position_index): `shape` of `dtype`; it takes no input, and other layers use
    it through `from:`.

    - buffers = prod(shape) (in memory at its own dtype); no params, MACs or FLOPs
    """

    type: Literal["Buffer"]
    default_call = "function"
    shape: int_list(1, "the tensor's shape")
    dtype: Literal["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool", "activation"] = Field(
        "activation", description="its element type; activation: the dtype the network computes in"
    )
    arity: ClassVar[tuple[int, int | None]] = (0, 0)

    def output_shape(self) -> Shape:
        return tuple(self.shape)

    def buffer_count(self) -> Value:
        return product(self.shape)

    def buffer_dtype(self) -> str:
        return self.dtype
