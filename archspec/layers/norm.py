"""Batch normalization: BatchNorm1d, BatchNorm2d, BatchNorm3d."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, product
from archspec.layers import register
from archspec.layers.base import Layer, Shape, Size, expect_rank


class _BatchNorm(Layer):
    """Normalizes each channel (dim 1) with running statistics (eval mode).

    - params = 2 * C (weight and bias) if affine, else 0
    - buffers = 2 * C + 1 (running_mean, running_var, num_batches_tracked) if track_running_stats
    - MACs = 0; other FLOPs = 2 * numel: x * scale + shift with per-channel scale and shift
    """

    num_features: Size | None = Field(None, description="inferred from the input's channel dim; checked when given")
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True

    ranks: ClassVar[tuple[int, ...]] = ()
    layout: ClassVar[str] = ""

    def output_shape(self, x: Shape) -> Shape:
        expect_rank(x, self.ranks, self.layout)
        self.check_inferred("num_features", x[1])
        return x

    def param_count(self, x: Shape) -> Value:
        return 2 * x[1] if self.affine else 0

    def buffer_count(self, x: Shape) -> Value:
        return 2 * x[1] + 1 if self.track_running_stats else 0

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("BatchNorm")


@register
class BatchNorm1d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__
    type: Literal["BatchNorm1d"]
    ranks = (2, 3)
    layout = "N, C or N, C, L"


@register
class BatchNorm2d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__
    type: Literal["BatchNorm2d"]
    ranks = (4,)
    layout = "N, C, H, W"


@register
class BatchNorm3d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__
    type: Literal["BatchNorm3d"]
    ranks = (5,)
    layout = "N, C, D, H, W"
