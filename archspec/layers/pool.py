"""Pooling: MaxPool, AvgPool, AdaptiveAvgPool and AdaptiveMaxPool in 1, 2 and 3 dims."""

from __future__ import annotations

import math

from archspec.dims import (
    Value,
    ceildiv,
    definitely_equal,
    floordiv,
    is_concrete,
    product,
    total,
)
from archspec.errors import LayerError
from archspec.expr import MAX_SYMBOLIC_NODES
from archspec.layers import register_variants
from archspec.layers._window import sliding_window_count
from archspec.layers.base import (
    SAVES_INPUT,
    Counts,
    Layer,
    OptionalSizes,
    Saved,
    Shape,
    Sizes,
    expect_rank,
)

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


class _Pool(Layer):
    """Common input handling: (N, C, *S) or unbatched (C, *S)."""

    def _split(self, x: Shape) -> tuple[Shape, Shape]:
        n = self.spatial_dims
        expect_rank(x, (n + 2, n + 1), f"N, C, {_SPATIAL[n]}")
        return x[:-n], x[-n:]


class _WindowPool(_Pool):
    kernel_size: Sizes
    stride: Sizes | None = None
    padding: Counts = 0
    ceil_mode: bool = False

    def _dilation(self) -> tuple[Value, ...]:
        return (1,) * self.spatial_dims

    def output_shape(self, x: Shape) -> Shape:
        lead, spatial = self._split(x)
        stride = self.stride or self.kernel_size
        out = []
        for size, k, s, p, d in zip(spatial, self.kernel_size, stride, self.padding, self._dilation()):
            span = d * (k - 1) + 1
            if is_concrete(p) and is_concrete(span) and 2 * p > span:
                raise LayerError(f"padding {p} is more than half the window span {span} (PyTorch rejects it)")
            out.append(sliding_window_count(size, k, s, p, p, d, self.ceil_mode))
        return (*lead, *out)

    def window_elements(self, x: Shape) -> Value:
        """Elements of one full window: prod(kernel_size), except where a ceil_mode window is
        wider than the padded input (it covers only the taps that fall in it)."""
        _, spatial = self._split(x)
        elements = 1
        for size, k, p, d in zip(spatial, self.kernel_size, self.padding, self._dilation()):
            padded = size + 2 * p
            overhangs = is_concrete(padded) and is_concrete(k) and is_concrete(d) and d * (k - 1) + 1 > padded
            elements *= (padded - 1) // d + 1 if overhangs else k
        return elements


class _MaxPool(_WindowPool):
    """Maximum over each window.

    - Output size: as a convolution's, with ceil_mode rounding up (PyTorch's rule).
    - other FLOPs = numel(out) * (K - 1) comparisons, K = prod(kernel_size) (full windows;
      a ceil_mode window wider than the padded input counts the taps inside it)
    """

    dilation: Sizes = 1
    return_indices: bool = False

    def _dilation(self) -> tuple[Value, ...]:
        return self.dilation

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * (self.window_elements(x) - 1)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=0), Saved(numel=product(out), dtype="int64"))  # the input, the argmax indices


class _AvgPool(_WindowPool):
    """Mean over each window.

    - Output size: as a convolution's (dilation 1), with ceil_mode rounding up.
    - other FLOPs = numel(out) * K: K - 1 adds and 1 division per window, K = prod(kernel_size)
      (full windows; count_include_pad and divisor_override change no count; a ceil_mode window
      wider than the padded input counts the elements inside it: AvgPool2d(1280, ceil_mode=True)
      on 7 x 7 is a global average of 49)
    """

    count_include_pad: bool = True
    divisor_override: int | None = None

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * self.window_elements(x)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT


def adaptive_window_total(size: Value, out_size: Value) -> Value:
    """Sum of the adaptive window lengths along one dim: window i spans
    floor(i * size / out) .. ceil((i + 1) * size / out); S + O - gcd(S, O) in all (docs/counting.md)."""
    if not is_concrete(out_size):
        raise LayerError(f"output_size {out_size} must be a number to count adaptive windows")
    if is_concrete(size):
        return int(size) + int(out_size) - math.gcd(int(size), int(out_size))
    # a free input size: gcd has no closed form in it, so the windows are summed one by one
    if out_size > MAX_SYMBOLIC_NODES:
        raise LayerError(f"output_size {out_size:,} over a free input size {size} would sum {out_size:,} windows "
                         f"one by one (at most {MAX_SYMBOLIC_NODES:,}); bind the input size")
    return total(ceildiv((i + 1) * size, out_size) - floordiv(i * size, out_size) for i in range(out_size))


class _AdaptivePool(_Pool):
    output_size: OptionalSizes

    def output_shape(self, x: Shape) -> Shape:
        lead, spatial = self._split(x)
        return (*lead, *(s if o is None else o for s, o in zip(spatial, self.output_size)))

    def _window_elements(self, x: Shape, out: Shape) -> Value:
        """Input elements read over all windows: lead * prod over dims of the window totals."""
        lead, spatial = self._split(x)
        out_spatial = out[len(lead) :]
        return product(lead) * product(adaptive_window_total(s, o) for s, o in zip(spatial, out_spatial))


class _AdaptiveAvgPool(_AdaptivePool):
    """Mean over adaptive windows (start floor(i*S/O), end ceil((i+1)*S/O)).

    - other FLOPs = sum of window sizes over all outputs (K - 1 adds + 1 division each)
    """

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return self._window_elements(x, out)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        # To a single output per channel PyTorch computes a mean, whose gradient needs only
        # the input's shape; other windows keep the input.
        _, spatial = self._split(out)
        return () if all(definitely_equal(size, 1) for size in spatial) else SAVES_INPUT


class _AdaptiveMaxPool(_AdaptivePool):
    """Maximum over adaptive windows (start floor(i*S/O), end ceil((i+1)*S/O)).

    - other FLOPs = sum over outputs of (window size - 1) comparisons
    """

    return_indices: bool = False

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return self._window_elements(x, out) - product(out)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=0), Saved(numel=product(out), dtype="int64"))


register_variants(_MaxPool, "MaxPool", globals())
register_variants(_AvgPool, "AvgPool", globals())
register_variants(_AdaptiveAvgPool, "AdaptiveAvgPool", globals())
register_variants(_AdaptiveMaxPool, "AdaptiveMaxPool", globals())
