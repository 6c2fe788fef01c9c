"""Sliding windows: the output-size rule shared by convolutions and pooling."""

from __future__ import annotations

from archspec.dims import Value, ceildiv, definitely_less, floordiv, is_concrete
from archspec.errors import LayerError


def sliding_window_count(
    size: Value,
    kernel: Value,
    stride: Value,
    pad_left: Value,
    pad_right: Value,
    dilation: Value = 1,
    ceil_mode: bool = False,
) -> Value:
    """How many window positions fit along one dimension, exactly as PyTorch counts them.

    floor mode: floor((size + pads - span) / stride) + 1, span = dilation*(kernel-1) + 1; the
    window must fit in the padded input (a convolution's check, and pooling's output >= 1).
    ceil mode (pooling only): ceil(...) + 1, minus the last window when it would start in the
    right padding (PyTorch's pooling_output_shape); a window wider than the padded input is
    allowed as long as one position remains (an AvgPool2d(1280, ceil_mode=True) on 7 x 7 gives 1).
    """
    span = dilation * (kernel - 1) + 1
    padded = size + pad_left + pad_right
    too_wide = (
        f"the window spans {span} (kernel_size {kernel}, dilation {dilation}) but the padded input "
        f"is only {padded} (size {size}, padding {pad_left}+{pad_right})"
    )
    if not ceil_mode:
        if definitely_less(padded, span):
            raise LayerError(too_wide)
        return floordiv(padded - span, stride) + 1
    count = ceildiv(padded - span, stride) + 1
    if is_concrete(count):
        if (count - 1) * stride >= size + pad_left:
            count -= 1
        if count < 1:
            raise LayerError(f"{too_wide}: with ceil_mode and stride {stride}, no window position remains")
        return count
    if definitely_less(padded, span):
        raise LayerError(f"{too_wide}; with ceil_mode a window may overhang, but only a concrete input size tells")
    # With stride <= span - pad_right the last window always starts inside the input.
    if is_concrete(stride) and is_concrete(span) and is_concrete(pad_right) and stride <= span - pad_right:
        return count
    raise LayerError(
        f"ceil_mode=True with stride {stride}, window span {span} and right padding {pad_right} "
        "needs a concrete input size (the last window may start in the padding)"
    )
