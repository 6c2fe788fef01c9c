"""Normalization: BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, definitely_equal, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Layer,
    Shape,
    Size,
    SizeOrList,
    expect_rank,
    format_shape,
)


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


@register
class LayerNorm(Layer):
    """Normalizes over the last len(normalized_shape) dims of each sample (torch.nn.LayerNorm).

    - params = 2 * prod(normalized_shape) with elementwise_affine and bias (1x without bias)
    - other FLOPs = numel * 5 (sum for the mean, subtract, square, sum of squares, scale
      by 1/std) + rows * 4 (two divisions by the count, add eps, rsqrt) + numel * the affine
      ops (a multiply, and an add with bias); rows = numel / prod(normalized_shape)
    """

    type: Literal["LayerNorm"]
    normalized_shape: SizeOrList | None = Field(None, description="default: the last dim; checked when given")
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def _normalized(self, x: Shape) -> Shape:
        given = self.normalized_shape
        if given is None:
            return x[-1:]
        given = given if isinstance(given, tuple) else (given,)
        if len(given) > len(x) or any(not definitely_equal(a, b) for a, b in zip(given, x[len(x) - len(given) :])):
            raise LayerError(
                f"normalized_shape {format_shape(given)} must match the input's last dims, "
                f"got an input {format_shape(x)}"
            )
        return given

    def output_shape(self, x: Shape) -> Shape:
        self._normalized(x)
        return x

    def _affine_terms(self) -> int:
        return (1 + int(self.bias)) if self.elementwise_affine else 0

    def param_count(self, x: Shape) -> Value:
        return self._affine_terms() * product(self._normalized(x))

    def other_flops(self, x: Shape, out: Shape) -> Value:
        rows = product(x[: len(x) - len(self._normalized(x))])
        return product(x) * (flops_per_element("LayerNorm") + self._affine_terms()) + rows * 4
