"""Upsample: nearest or (bi/tri)linear resizing of the spatial dims."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from archspec.dims import Value, floordiv, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import Layer, Shape, SizeOrList, real

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


@register
class Upsample(Layer):
    """Resizes the spatial dims of (N, C, *S) to `size`, or to floor(S * scale_factor).

    - MACs = 0; other FLOPs per output element: 0 for nearest; for linear, bilinear and
      trilinear (d dims) 2^d multiplies and 2^d - 1 adds (a weighted sum of 2^d neighbours)
    """

    type: Literal["Upsample"]
    size: SizeOrList | None = None
    scale_factor: real(minimum=0, lists=True) | None = Field(None, description="a number or one per spatial dim")
    mode: Literal["nearest", "linear", "bilinear", "trilinear", "nearest-exact"] = "nearest"
    align_corners: bool | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "Upsample":
        if (self.size is None) == (self.scale_factor is None):
            raise ValueError("give either size or scale_factor (exactly one)")
        return self

    def output_shape(self, x: Shape) -> Shape:
        dims = _LINEAR.get(self.mode, len(x) - 2)
        if len(x) != dims + 2 or dims < 1:
            raise LayerError(f"mode {self.mode} needs an input (N, C) + {dims} spatial dims, got {len(x)} dims")
        spatial = x[2:]
        if self.size is not None:
            target = self.size if isinstance(self.size, tuple) else (self.size,) * dims
        else:
            factors = self.scale_factor if isinstance(self.scale_factor, tuple) else [self.scale_factor] * dims
            target = tuple(_scaled(s, f) for s, f in zip(spatial, factors))
        if len(target) != dims:
            raise LayerError(f"{len(target)} target sizes for {dims} spatial dims")
        return (*x[:2], *target)

    def other_flops(self, x: Shape, out: Shape) -> Value:
        dims = _LINEAR.get(self.mode)
        return 0 if dims is None else product(out) * (2 * 2**dims - 1)


def _scaled(size: Value, factor: float) -> Value:
    """floor(size * factor), exactly (PyTorch: an integer factor multiplies exactly)."""
    if factor <= 0:
        raise LayerError(f"scale_factor must be positive, found {factor}")
    if float(factor).is_integer():
        return size * int(factor)
    numerator, denominator = float(factor).as_integer_ratio()
    return floordiv(size * numerator, denominator) if not isinstance(size, int) else math.floor(size * factor)


@register
class Interpolate(Upsample):
    """F.interpolate: the same resizing as Upsample, called as a function."""

    type: Literal["Interpolate"]
    default_call = "function"
