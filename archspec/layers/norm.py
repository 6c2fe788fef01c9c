"""Normalization: BatchNorm, LayerNorm, RMSNorm, GroupNorm, InstanceNorm."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, definitely_different, product
from archspec.errors import LayerError
from archspec.layers import register, register_variants
from archspec.layers.base import (
    Layer,
    Saved,
    Shape,
    Size,
    SizeOrList,
    exact_div,
    expect_rank,
    format_shape,
    real,
)


class _BatchNorm(Layer):
    """Normalizes each channel (dim 1) with running statistics (eval mode).

    - params = 2 * C (weight and bias) if affine, else 0
    - buffers = 2 * C + 1 (running_mean, running_var, num_batches_tracked) if track_running_stats
    - MACs = 0; other FLOPs = 2 * numel: x * scale + shift with per-channel scale and shift
    """

    num_features: Size | None = Field(None, description="inferred from the input's channel dim; checked when given")
    eps: real(minimum=0) = 1e-5
    momentum: real(0, 1) | None = 0.1
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

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        # the input, the batch mean and inverse std, and the running mean and var (training)
        statistics = (4 if self.track_running_stats else 2) * x[1]
        return (Saved(input=0), Saved(numel=statistics))


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
    eps: real(minimum=0) = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def _normalized(self, x: Shape) -> Shape:
        given = self.normalized_shape
        if given is None:
            return x[-1:]
        given = given if isinstance(given, tuple) else (given,)
        if len(given) > len(x) or any(definitely_different(a, b) for a, b in zip(given, x[len(x) - len(given) :])):
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

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        rows = product(x[: len(x) - len(self._normalized(x))])
        return (Saved(input=0), Saved(numel=2 * rows))  # the input, the mean and 1/std per row


class _PerRowNorm(Layer):
    """Shared by RMSNorm, GroupNorm and InstanceNorm: statistics over groups of elements."""

    # FLOPs per element and per row (a group of elements sharing one statistic).
    costs: ClassVar[tuple[int, int]] = (0, 0)

    def _rows_and_size(self, x: Shape) -> tuple[Value, Value]:
        raise NotImplementedError

    def _affine_terms(self) -> int:
        return 0

    def other_flops(self, x: Shape, out: Shape) -> Value:
        rows, _ = self._rows_and_size(x)
        per_element, per_row = self.costs
        return product(x) * (per_element + self._affine_terms()) + rows * per_row

    # Statistics kept per row: mean and 1/std (RMSNorm: 1/rms only).
    saved_per_row: ClassVar[int] = 2

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        rows, _ = self._rows_and_size(x)
        return (Saved(input=0), Saved(numel=self.saved_per_row * rows))


@register
class RMSNorm(_PerRowNorm):
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims (torch.nn.RMSNorm).

    - params = prod(normalized_shape) with elementwise_affine
    - other FLOPs = numel * 3 (square, sum, scale by 1/rms) + rows * 3 (divide by the count,
      add eps, rsqrt) + numel (the weight) with elementwise_affine (+ prod(normalized_shape)
      for 1 + weight with weight_offset)
    """

    type: Literal["RMSNorm"]
    normalized_shape: SizeOrList | None = Field(None, description="default: the last dim; checked when given")
    eps: real(minimum=0) | None = None
    elementwise_affine: bool = True
    weight_offset: Literal[0, 1] = Field(0, description="1: scale by (1 + weight), as Gemma's RMSNorm (+1 FLOP per weight)")
    kernel: Literal["fused", "eager"] = Field(
        "fused",
        description="fused: torch.nn.RMSNorm's kernel (keeps the input and 1/rms per row); eager: written out as "
        "HuggingFace models do (also keeps the normalized input, and the (1 + weight) tensor with weight_offset)",
    )
    costs = (3, 3)
    saved_per_row = 1

    def other_flops(self, x: Shape, out: Shape) -> Value:
        offset = product(self._normalized(x)) if self.weight_offset and self.elementwise_affine else 0
        return super().other_flops(x, out) + offset

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        kept = super().saved_for_backward(x, out)
        if self.kernel == "fused" or not self.elementwise_affine:
            return kept
        offset = (Saved(numel=product(self._normalized(x))),) if self.weight_offset else ()
        return (*kept, Saved(numel=product(x)), *offset)  # x * (1/rms), which the weight multiplies

    _normalized = LayerNorm._normalized

    def output_shape(self, x: Shape) -> Shape:
        self._normalized(x)
        return x

    def _rows_and_size(self, x: Shape) -> tuple[Value, Value]:
        size = product(self._normalized(x))
        return product(x[: len(x) - len(self._normalized(x))]), size

    def _affine_terms(self) -> int:
        return int(self.elementwise_affine)

    def param_count(self, x: Shape) -> Value:
        return product(self._normalized(x)) if self.elementwise_affine else 0


@register
class GroupNorm(_PerRowNorm):
    """Normalizes each of num_groups channel groups of each sample (torch.nn.GroupNorm).
    Input (N, C, *).

    - params = 2 * C with affine
    - other FLOPs = numel * 5 + (N * num_groups) * 4 + numel * 2 with affine (as LayerNorm,
      one row per sample and group)
    """

    type: Literal["GroupNorm"]
    num_groups: Size
    num_channels: Size | None = Field(None, description="inferred from the input's channel dim; checked when given")
    eps: real(minimum=0) = 1e-5
    affine: bool = True
    costs = (5, 4)

    def output_shape(self, x: Shape) -> Shape:
        if len(x) < 2:
            raise LayerError(f"expected an input (N, C, *), got {format_shape(x)}")
        self.check_inferred("num_channels", x[1])
        exact_div(x[1], self.num_groups, "num_channels must be divisible by num_groups")
        return x

    def _rows_and_size(self, x: Shape) -> tuple[Value, Value]:
        return x[0] * self.num_groups, product(x[1:]) // self.num_groups

    def _affine_terms(self) -> int:
        return 2 if self.affine else 0

    def param_count(self, x: Shape) -> Value:
        return 2 * x[1] if self.affine else 0


class _InstanceNorm(_PerRowNorm):
    """Normalizes each channel of each sample over its spatial dims (eval mode, no running stats
    by default). Input (N, C, *S) or unbatched (C, *S).

    - params = 2 * C with affine; buffers = 2 * C + 1 with track_running_stats
    - other FLOPs = numel * 5 + (N * C) * 4 + numel * 2 with affine (one row per sample and channel)
    """

    num_features: Size | None = Field(None, description="inferred from the input's channel dim; checked when given")
    eps: real(minimum=0) = 1e-5
    momentum: real(0, 1) | None = 0.1
    affine: bool = False
    track_running_stats: bool = False
    costs = (5, 4)

    def _channel_dim(self, x: Shape) -> int:
        n = self.spatial_dims
        expect_rank(x, (n + 2, n + 1), "N, C, *spatial")
        return len(x) - n - 1

    def output_shape(self, x: Shape) -> Shape:
        self.check_inferred("num_features", x[self._channel_dim(x)])
        return x

    def _rows_and_size(self, x: Shape) -> tuple[Value, Value]:
        c = self._channel_dim(x)
        return product(x[: c + 1]), product(x[c + 1 :])

    def _affine_terms(self) -> int:
        return 2 if self.affine else 0

    def param_count(self, x: Shape) -> Value:
        return 2 * x[self._channel_dim(x)] if self.affine else 0

    def buffer_count(self, x: Shape) -> Value:
        return 2 * x[self._channel_dim(x)] + 1 if self.track_running_stats else 0


register_variants(_InstanceNorm, "InstanceNorm", globals())
