"""Pooling: output sizes against a brute-force window walk (ceil_mode included), adaptive windows."""

import itertools
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import archspec
from archspec.dims import evaluate_at
from archspec.errors import ShapeError
from tests.helpers import analyze_one


def pool_windows(size, kernel, stride, padding, dilation, ceil_mode):
    """Brute force walk of PyTorch's pooling windows along one dim.

    Floor mode keeps windows lying wholly in the padded input. Ceil mode keeps adding
    windows until the last padded position is covered, but never starts one in the
    right padding.
    """
    padded = size + 2 * padding
    span = dilation * (kernel - 1) + 1
    if span > padded:
        return 0
    count, start = 1, 0
    while True:
        last = start + span - 1
        start += stride
        if ceil_mode:
            if last >= padded - 1 or start >= size + padding:
                return count
        elif start + span > padded:
            return count
        count += 1


@st.composite
def pool_configs(draw):
    kernel = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 2))
    span = dilation * (kernel - 1) + 1
    return {
        "size": draw(st.integers(1, 15)),
        "kernel": kernel,
        "stride": draw(st.integers(1, 4)),
        "padding": draw(st.integers(0, span // 2)),  # PyTorch: padding at most half the window
        "dilation": dilation,
        "ceil_mode": draw(st.booleans()),
    }


@given(pool_configs())
def test_max_pool_output_size_matches_brute_force(c):
    expected = pool_windows(c["size"], c["kernel"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"])
    assume(expected > 0)
    layer = {"type": "MaxPool1d", "kernel_size": c["kernel"], "stride": c["stride"], "padding": c["padding"], "dilation": c["dilation"], "ceil_mode": c["ceil_mode"]}
    row = analyze_one([2, 3, c["size"]], layer)
    assert row.output_shape == (2, 3, expected)
    assert row.flops == 2 * 3 * expected * (c["kernel"] - 1)
    assert row.macs == 0


@given(pool_configs())
def test_avg_pool_output_size_matches_brute_force(c):
    expected = pool_windows(c["size"], c["kernel"], c["stride"], c["padding"], 1, c["ceil_mode"])
    assume(expected > 0 and 2 * c["padding"] <= c["kernel"])
    layer = {"type": "AvgPool2d", "kernel_size": c["kernel"], "stride": c["stride"], "padding": c["padding"], "ceil_mode": c["ceil_mode"]}
    row = analyze_one([1, 2, c["size"], c["size"]], layer)
    assert row.output_shape == (1, 2, expected, expected)
    assert row.flops == 2 * expected * expected * c["kernel"] ** 2


def test_max_pool_stride_defaults_to_kernel_size():
    row = analyze_one([1, 64, 112, 112], {"type": "MaxPool2d", "kernel_size": 2})
    assert row.output_shape == (1, 64, 56, 56)


def test_padding_beyond_half_the_window_is_rejected():
    with pytest.raises(ShapeError, match="more than half the window"):
        analyze_one([1, 1, 10, 10], {"type": "MaxPool2d", "kernel_size": 2, "padding": 2})


def brute_force_adaptive(sizes, outs):
    """Sum of window sizes over all output positions, windows from PyTorch's definition."""
    bounds = []
    for size, out in zip(sizes, outs):
        bounds.append([(floor(Fraction(i * size, out)), ceil(Fraction((i + 1) * size, out))) for i in range(out)])
    total = 0
    for windows in itertools.product(*bounds):
        elements = 1
        for start, end in windows:
            elements *= end - start
        total += elements
    return total


@given(st.lists(st.integers(1, 20), min_size=2, max_size=2), st.lists(st.integers(1, 8), min_size=2, max_size=2))
def test_adaptive_avg_pool_counts_every_window_element(sizes, outs):
    row = analyze_one([1, 3, *sizes], {"type": "AdaptiveAvgPool2d", "output_size": outs})
    assert row.output_shape == (1, 3, *outs)
    assert row.flops == 3 * brute_force_adaptive(sizes, outs)


@given(st.integers(1, 30), st.integers(1, 9))
def test_adaptive_max_pool_compares_window_minus_one(size, out):
    row = analyze_one([2, 4, size], {"type": "AdaptiveMaxPool1d", "output_size": out})
    assert row.flops == 2 * 4 * (brute_force_adaptive([size], [out]) - out)


@given(st.integers(1, 600), st.integers(1, 300))
def test_adaptive_window_lengths_sum_to_size_plus_out_minus_their_gcd(size, out):
    from archspec.layers.pool import adaptive_window_total

    assert adaptive_window_total(size, out) == brute_force_adaptive([size], [out])


def test_a_huge_adaptive_output_is_counted_in_closed_form():
    """2**40 windows per dim: summed one by one, this never ended."""
    row = analyze_one([1, 3, 13, 13], {"type": "AdaptiveAvgPool2d", "output_size": 2**40})
    assert row.flops == 3 * (13 + 2**40 - 1) ** 2


def test_a_huge_adaptive_output_over_a_free_size_is_refused():
    with pytest.raises(ShapeError, match="would sum 1,000,000 windows one by one"):
        analyze_one([1, 1, "H"], {"type": "AdaptiveAvgPool1d", "output_size": 10**6}, params={"H": None})


def test_adaptive_output_size_none_keeps_the_input_size():
    row = analyze_one([1, 8, 10, 12], {"type": "AdaptiveAvgPool2d", "output_size": [None, 3]})
    assert row.output_shape == (1, 8, 10, 3)


def test_adaptive_pool_over_symbolic_size_is_exact():
    symbolic = analyze_one([1, 1, "H"], {"type": "AdaptiveAvgPool1d", "output_size": 7}, params={"H": None})
    for h in range(1, 60):
        bound = analyze_one([1, 1, h], {"type": "AdaptiveAvgPool1d", "output_size": 7})
        assert evaluate_at(symbolic.flops, {"H": h}) == bound.flops


@pytest.mark.parametrize("kind, shape, output_size, saves_input", [
    ("AdaptiveAvgPool1d", [2, 3, 8], 1, False),
    ("AdaptiveAvgPool2d", [2, 3, 8, 8], 1, False),
    ("AdaptiveAvgPool3d", [2, 3, 4, 4, 4], 1, False),
    ("AdaptiveAvgPool2d", [2, 3, 8, 8], [1, 2], True),
    ("AdaptiveAvgPool2d", [2, 3, 8, 8], 2, True),
])
def test_global_average_pooling_saves_nothing_for_backward(kind, shape, output_size, saves_input):
    """PyTorch computes a 1x1 adaptive average as a mean, whose gradient needs only the input's
    shape (measured: 0 bytes saved; 1536 for the other two)."""
    from archspec.memory import memory

    report = archspec.analyze({"inputs": {"x": {"shape": shape}}, "layers": [{"type": kind, "output_size": output_size}]})
    numel = 1
    for d in shape:
        numel *= d
    assert memory(report).totals["saved_activations"] == (4 * numel if saves_input else 0)
