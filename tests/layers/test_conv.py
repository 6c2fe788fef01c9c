"""Conv1d/2d/3d: shapes and MACs against brute-force enumeration; params and errors."""

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from archspec.dims import evaluate_at
from archspec.errors import ShapeError, SpecError
from tests.helpers import analyze_one


def window_starts(size, kernel, stride, pad_left, pad_right, dilation):
    """Brute force: every start position whose whole window lies in the padded input."""
    span = dilation * (kernel - 1) + 1
    starts, start = [], 0
    while start + span <= size + pad_left + pad_right:
        starts.append(start)
        start += stride
    return starts


@st.composite
def conv_configs(draw):
    dims = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 2]))
    return {
        "dims": dims,
        "batch": draw(st.integers(1, 2)),
        "in_channels": groups * draw(st.integers(1, 2)),
        "out_channels": groups * draw(st.integers(1, 2)),
        "groups": groups,
        "size": [draw(st.integers(1, 9)) for _ in range(dims)],
        "kernel": [draw(st.integers(1, 4)) for _ in range(dims)],
        "stride": [draw(st.integers(1, 3)) for _ in range(dims)],
        "padding": [draw(st.integers(0, 2)) for _ in range(dims)],
        "dilation": [draw(st.integers(1, 2)) for _ in range(dims)],
        "bias": draw(st.booleans()),
    }


def conv_layer(c):
    return {
        "type": f"Conv{c['dims']}d",
        "out_channels": c["out_channels"],
        "kernel_size": c["kernel"],
        "stride": c["stride"],
        "padding": c["padding"],
        "dilation": c["dilation"],
        "groups": c["groups"],
        "bias": c["bias"],
    }


@given(conv_configs())
def test_shape_and_macs_match_brute_force_enumeration(c):
    starts = [
        window_starts(s, k, st_, p, p, d)
        for s, k, st_, p, d in zip(c["size"], c["kernel"], c["stride"], c["padding"], c["dilation"])
    ]
    assume(all(starts))  # a window that fits nowhere is an error, tested below
    row = analyze_one([c["batch"], c["in_channels"], *c["size"]], conv_layer(c))
    assert row.output_shape == (c["batch"], c["out_channels"], *map(len, starts))

    # Count every (output position, kernel tap) multiply-accumulate, taps on padding included.
    per_group_in = c["in_channels"] // c["groups"]
    macs = 0
    for _n, _cout, *position in itertools.product(range(c["batch"]), range(c["out_channels"]), *starts):
        for _cin in range(per_group_in):
            for tap in itertools.product(*(range(k) for k in c["kernel"])):
                coords = [p + t * d for p, t, d in zip(position, tap, c["dilation"])]
                assert all(0 <= x < s + 2 * pad for x, s, pad in zip(coords, c["size"], c["padding"]))
                macs += 1
    assert row.macs == macs
    outputs = c["batch"] * c["out_channels"] * len(list(itertools.product(*starts)))
    assert row.flops == 2 * macs + (outputs if c["bias"] else 0)


@given(conv_configs())
def test_params_are_weight_and_bias_elements(c):
    row = analyze_one([1, c["in_channels"], *[9] * c["dims"]], {**conv_layer(c), "padding": "same", "stride": 1})
    weight_shape = [c["out_channels"], c["in_channels"] // c["groups"], *c["kernel"]]
    elements = 1
    for d in weight_shape:
        elements *= d
    assert row.params == elements + (c["out_channels"] if c["bias"] else 0)


@given(st.integers(1, 12), st.integers(1, 7), st.integers(1, 3))
def test_same_padding_keeps_the_size(size, kernel, dilation):
    assume(dilation * (kernel - 1) + 1 <= size + dilation * (kernel - 1))
    row = analyze_one([1, 2, size], {"type": "Conv1d", "out_channels": 3, "kernel_size": kernel, "dilation": dilation, "padding": "same"})
    assert row.output_shape == (1, 3, size)


def test_seed_convolution_3x3_64_to_128_on_112x112():
    row = analyze_one([1, 64, 112, 112], {"type": "Conv2d", "out_channels": 128, "kernel_size": 3, "padding": 1})
    assert row.macs == 924_844_032  # 112 * 112 * 128 * 64 * 9
    # (K_h K_w C_in + 1) C_out H_out W_out: MACs plus bias additions, from the report's fields.
    assert row.flops - row.macs == (3 * 3 * 64 + 1) * 128 * 112 * 112


def test_depthwise_convolution():
    row = analyze_one([1, 32, 56, 56], {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1, "groups": 32, "bias": False})
    assert row.params == 32 * 9
    assert row.macs == 32 * 56 * 56 * 9


def test_unbatched_input_is_accepted_like_pytorch():
    row = analyze_one([3, 10, 10], {"type": "Conv2d", "out_channels": 4, "kernel_size": 3})
    assert row.output_shape == (4, 8, 8)
    assert row.macs == 4 * 8 * 8 * 3 * 9


def test_symbolic_resolution_keeps_floor_semantics():
    layer = {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}
    symbolic = analyze_one(["B", 3, "H", "H"], layer, params={"B": None, "H": None})
    for b, h in [(1, 7), (2, 8), (3, 224), (1, 1)]:
        bound = analyze_one([b, 3, h, h], layer)
        values = {"B": b, "H": h}
        assert evaluate_at(symbolic.macs, values) == bound.macs
        assert [evaluate_at(d, values) for d in symbolic.output_shape] == list(bound.output_shape)


def test_kernel_larger_than_padded_input_is_an_error():
    with pytest.raises(ShapeError, match=r"window spans 7 .* padded input is only 6.*input shape \[1, 1, 4, 4\]"):
        analyze_one([1, 1, 4, 4], {"type": "Conv2d", "out_channels": 2, "kernel_size": 7, "padding": 1})


def test_in_channels_is_checked_against_the_input():
    with pytest.raises(ShapeError, match="in_channels=4 but the input gives in_channels=3"):
        analyze_one([1, 3, 8, 8], {"type": "Conv2d", "in_channels": 4, "out_channels": 2, "kernel_size": 3})


def test_groups_must_divide_the_channels():
    with pytest.raises(ShapeError, match="in_channels must be divisible by groups: 6 is not divisible by 4"):
        analyze_one([1, 6, 8, 8], {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "groups": 4})


def test_same_padding_with_stride_is_rejected_as_in_pytorch():
    with pytest.raises(ShapeError, match="padding='same' is not supported for strided convolutions"):
        analyze_one([1, 3, 8, 8], {"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2, "padding": "same"})


def test_wrong_rank_names_the_expected_layout():
    with pytest.raises(ShapeError, match=r"expected a 4-D or 3-D input \(N, C, H, W\), got a 2-D input"):
        analyze_one([1, 30], {"type": "Conv2d", "out_channels": 2, "kernel_size": 3})


def test_per_dimension_arguments_need_one_value_per_spatial_dim():
    with pytest.raises(SpecError, match="kernel_size has 3 values"):
        analyze_one([1, 3, 8, 8], {"type": "Conv2d", "out_channels": 2, "kernel_size": [3, 3, 3]})


def test_non_integer_expression_is_rejected():
    with pytest.raises(SpecError, match="evaluates to 5/2, which is not an integer"):
        analyze_one([1, 3, 8, 8], {"type": "Conv2d", "out_channels": "k/2", "kernel_size": 3}, params={"k": 5})


@st.composite
def transposed_configs(draw):
    groups = draw(st.sampled_from([1, 2]))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    return {
        "batch": draw(st.integers(1, 2)),
        "in_channels": groups * draw(st.integers(1, 2)),
        "out_channels": groups * draw(st.integers(1, 2)),
        "groups": groups,
        "size": draw(st.integers(1, 6)),
        "kernel": draw(st.integers(1, 4)),
        "stride": stride,
        "padding": draw(st.integers(0, 2)),
        "output_padding": draw(st.integers(0, max(stride, dilation) - 1)),
        "dilation": dilation,
        "bias": draw(st.booleans()),
    }


@given(transposed_configs())
def test_transposed_conv_matches_a_scatter_enumeration(c):
    # Brute force: input position i and tap j write to i*stride + j*dilation of the full output;
    # padding crops that many from each side, output_padding adds at the end.
    full = max(i * c["stride"] + j * c["dilation"] for i in range(c["size"]) for j in range(c["kernel"])) + 1
    length = full + c["output_padding"] - 2 * c["padding"]
    taps = c["size"] * c["kernel"]  # (input, tap) pairs per channel pair, all multiplied
    layer = {
        "type": "ConvTranspose1d",
        "out_channels": c["out_channels"],
        "kernel_size": c["kernel"],
        "stride": c["stride"],
        "padding": c["padding"],
        "output_padding": c["output_padding"],
        "dilation": c["dilation"],
        "groups": c["groups"],
        "bias": c["bias"],
    }
    shape = [c["batch"], c["in_channels"], c["size"]]
    if length < 1:
        with pytest.raises(ShapeError):
            analyze_one(shape, layer)
        return
    row = analyze_one(shape, layer)
    per_group_out = c["out_channels"] // c["groups"]
    assert row.output_shape == (c["batch"], c["out_channels"], length)
    assert row.params == c["in_channels"] * per_group_out * c["kernel"] + (c["out_channels"] if c["bias"] else 0)
    assert row.macs == c["batch"] * c["in_channels"] * per_group_out * taps
    assert row.flops == 2 * row.macs + (c["batch"] * c["out_channels"] * length if c["bias"] else 0)


def test_transposed_conv_output_padding_must_be_below_stride_or_dilation():
    with pytest.raises(ShapeError, match="output_padding 2 must be smaller than the stride 2 or the dilation 1"):
        analyze_one([1, 2, 5], {"type": "ConvTranspose1d", "out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2})
