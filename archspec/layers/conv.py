"""Convolutions: Conv1d/2d/3d (padding incl. same/valid, dilation, groups) and ConvTranspose1d/2d/3d."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field

from archspec.costs import flops_per_element
from archspec.dims import Value, is_concrete, product
from archspec.errors import LayerError
from archspec.layers import register_variants
from archspec.layers._window import sliding_window_count
from archspec.layers.base import (
    SAVES_INPUT,
    Counts,
    IntArg,
    Layer,
    Saved,
    Scalar,
    Shape,
    Size,
    Sizes,
    exact_div,
    expect_rank,
    parse_int_arg,
)


def _padding(value: Any) -> Any:
    if value in ("same", "valid"):
        return value
    if isinstance(value, list):
        return tuple(parse_int_arg(item, 0) for item in value)
    return parse_int_arg(value, 0)


Padding = Annotated[
    Union[Scalar, list[Scalar]],
    AfterValidator(_padding),
    IntArg(0, per_dim=True, lists=True),
    Field(description="zero padding per side: an int, one per spatial dim, 'same' or 'valid'"),
]


class _ConvNd(Layer):
    """Convolution over N spatial dims. Input (N, C_in, *S) or unbatched (C_in, *S).

    - Output size per spatial dim: floor((S + 2p - d(k-1) - 1) / s) + 1; 'same' pads
      d(k-1) in total (the extra one on the right), 'valid' pads nothing.
    - params = C_out * (C_in / groups) * prod(k) + (C_out if bias)
    - MACs = N * C_out * prod(S_out) * (C_in / groups) * prod(k)
    - other FLOPs = N * C_out * prod(S_out) bias additions (if bias)
    """

    in_channels: Size | None = Field(None, description="inferred from the input; checked when given")
    out_channels: Size
    kernel_size: Sizes
    stride: Sizes = 1
    padding: Padding = 0
    dilation: Sizes = 1
    groups: Size = 1
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    def _split(self, x: Shape) -> tuple[Shape, Value, Shape]:
        n = self.spatial_dims
        spatial_names = ("L", "H, W", "D, H, W")[n - 1]
        expect_rank(x, (n + 2, n + 1), f"N, C, {spatial_names}")
        return x[: -n - 1], x[-n - 1], x[-n:]

    def _pads(self) -> list[tuple[Value, Value]]:
        n = self.spatial_dims
        if self.padding == "valid":
            return [(0, 0)] * n
        if self.padding == "same":
            if any(s != 1 for s in self.stride):
                raise LayerError("padding='same' is not supported for strided convolutions (as in PyTorch)")
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return [(t // 2, t - t // 2) for t in totals]
        return [(p, p) for p in self.padding]

    def output_shape(self, x: Shape) -> Shape:
        batch, channels, spatial = self._split(x)
        self.check_inferred("in_channels", channels)
        exact_div(channels, self.groups, "in_channels must be divisible by groups")
        exact_div(self.out_channels, self.groups, "out_channels must be divisible by groups")
        out_spatial = tuple(
            sliding_window_count(size, k, s, left, right, d)
            for size, k, s, (left, right), d in zip(spatial, self.kernel_size, self.stride, self._pads(), self.dilation)
        )
        return (*batch, self.out_channels, *out_spatial)

    def _taps(self, x: Shape) -> Value:
        """Multiply-accumulates per output element: (C_in / groups) * prod(k)."""
        _, channels, _ = self._split(x)
        return exact_div(channels, self.groups, "in_channels / groups") * product(self.kernel_size)

    def weight_shape(self, x: Shape) -> Shape:
        _, channels, _ = self._split(x)
        return (self.out_channels, exact_div(channels, self.groups, "in_channels / groups"), *self.kernel_size)

    def param_count(self, x: Shape) -> Value:
        return self.out_channels * self._taps(x) + (self.out_channels if self.bias else 0)

    def macs(self, x: Shape, out: Shape) -> Value:
        return product(out) * self._taps(x)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("bias") if self.bias else 0


register_variants(_ConvNd, "Conv", globals())


class _ConvTransposeNd(Layer):
    """Transposed convolution over N spatial dims. Input (N, C_in, *S) or unbatched.

    - Output size per spatial dim: (S - 1)s - 2p + d(k-1) + output_padding + 1
    - params = C_in * (C_out / groups) * prod(k) + (C_out if bias)
    - MACs = N * C_in * prod(S) * (C_out / groups) * prod(k): every input element is
      multiplied by its group's kernel taps (the count is over inputs, not outputs)
    - other FLOPs = N * C_out * prod(S_out) bias additions (if bias)
    """

    in_channels: Size | None = Field(None, description="inferred from the input; checked when given")
    out_channels: Size
    kernel_size: Sizes
    stride: Sizes = 1
    padding: Counts = 0
    output_padding: Counts = 0
    groups: Size = 1
    bias: bool = True
    dilation: Sizes = 1
    padding_mode: Literal["zeros"] = "zeros"

    _split = _ConvNd._split

    def output_shape(self, x: Shape) -> Shape:
        batch, channels, spatial = self._split(x)
        self.check_inferred("in_channels", channels)
        exact_div(channels, self.groups, "in_channels must be divisible by groups")
        exact_div(self.out_channels, self.groups, "out_channels must be divisible by groups")
        out = []
        for size, k, s, p, op, d in zip(spatial, self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation):
            if is_concrete(op) and is_concrete(s) and is_concrete(d) and op >= s and op >= d:
                raise LayerError(f"output_padding {op} must be smaller than the stride {s} or the dilation {d}")
            out.append((size - 1) * s - 2 * p + d * (k - 1) + op + 1)
        return (*batch, self.out_channels, *out)

    def _taps(self) -> Value:
        """Multiply-accumulates per input element: (C_out / groups) * prod(k)."""
        return exact_div(self.out_channels, self.groups, "out_channels / groups") * product(self.kernel_size)

    def weight_shape(self, x: Shape) -> Shape:
        _, channels, _ = self._split(x)
        return (channels, exact_div(self.out_channels, self.groups, "out_channels / groups"), *self.kernel_size)

    def param_count(self, x: Shape) -> Value:
        _, channels, _ = self._split(x)
        return channels * self._taps() + (self.out_channels if self.bias else 0)

    def macs(self, x: Shape, out: Shape) -> Value:
        return product(x) * self._taps()

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("bias") if self.bias else 0


register_variants(_ConvTransposeNd, "ConvTranspose", globals())
