"""BatchNorm1d/2d/3d and LayerNorm: params, buffers (as torch.nn keeps them) and FLOPs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.errors import ShapeError
from tests.helpers import analyze_one


@pytest.mark.parametrize(
    "layer, shape",
    [("BatchNorm1d", [4, 16]), ("BatchNorm1d", [4, 16, 7]), ("BatchNorm2d", [2, 16, 5, 5]), ("BatchNorm3d", [1, 16, 2, 3, 4])],
)
def test_params_buffers_and_flops(layer, shape):
    row = analyze_one(shape, layer)
    numel = 1
    for d in shape:
        numel *= d
    assert row.output_shape == tuple(shape)
    assert row.params == 2 * 16  # weight, bias
    assert row.buffers == 2 * 16 + 1  # running_mean, running_var, num_batches_tracked
    assert row.macs == 0
    assert row.flops == 2 * numel


def test_without_affine_or_running_stats():
    row = analyze_one([1, 8, 4, 4], {"type": "BatchNorm2d", "affine": False, "track_running_stats": False})
    assert (row.params, row.buffers) == (0, 0)


def test_num_features_is_checked():
    with pytest.raises(ShapeError, match="num_features=32 but the input gives num_features=16"):
        analyze_one([1, 16, 4, 4], {"type": "BatchNorm2d", "num_features": 32})


def test_rank_is_checked():
    with pytest.raises(ShapeError, match=r"expected a 4-D input \(N, C, H, W\)"):
        analyze_one([1, 16], "BatchNorm2d")


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.booleans(), st.booleans(), st.data())
def test_layer_norm_params_and_flops(shape, affine, bias, data):
    last = data.draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - last :]
    layer = {"type": "LayerNorm", "normalized_shape": normalized, "elementwise_affine": affine, "bias": bias}
    row = analyze_one(shape, layer)
    size = 1
    for d in normalized:
        size *= d
    numel = 1
    for d in shape:
        numel *= d
    rows = numel // size
    affine_ops = (2 if bias else 1) if affine else 0
    assert row.output_shape == tuple(shape)
    assert row.params == affine_ops * size
    # per element: sum, subtract mean, square, sum of squares, scale by 1/std; per row:
    # two divisions by the count, add eps, rsqrt; then the affine multiply (and add).
    assert row.flops == numel * 5 + rows * 4 + numel * affine_ops
    assert row.macs == 0


def test_layer_norm_infers_the_last_dim_and_checks_a_given_shape():
    assert analyze_one([2, 7, 16], "LayerNorm").params == 32
    with pytest.raises(ShapeError, match=r"normalized_shape \[8\] must match the input's last dims, got an input \[2, 7, 16\]"):
        analyze_one([2, 7, 16], {"type": "LayerNorm", "normalized_shape": 8})


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.booleans())
def test_group_norm_counts_per_sample_and_group(batch, groups, per_group, size, affine):
    channels = groups * per_group
    row = analyze_one([batch, channels, size], {"type": "GroupNorm", "num_groups": groups, "affine": affine})
    numel = batch * channels * size
    assert row.params == (2 * channels if affine else 0)
    assert row.flops == numel * 5 + batch * groups * 4 + (2 * numel if affine else 0)  # as LayerNorm, per group


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 5), st.booleans(), st.booleans())
def test_instance_norm_counts_per_sample_and_channel(batch, channels, size, affine, track):
    layer = {"type": "InstanceNorm2d", "affine": affine, "track_running_stats": track}
    row = analyze_one([batch, channels, size, size], layer)
    numel = batch * channels * size * size
    assert (row.params, row.buffers) == ((2 * channels if affine else 0), (2 * channels + 1 if track else 0))
    assert row.flops == numel * 5 + batch * channels * 4 + (2 * numel if affine else 0)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.booleans())
def test_rms_norm(shape, affine):
    row = analyze_one(shape, {"type": "RMSNorm", "elementwise_affine": affine})
    numel = 1
    for d in shape:
        numel *= d
    rows = numel // shape[-1]
    # per element: square, sum, scale by 1/rms (3) and the weight; per row: divide, add eps, rsqrt
    assert row.params == (shape[-1] if affine else 0)
    assert row.flops == numel * 3 + rows * 3 + (numel if affine else 0)


def test_group_norm_needs_divisible_channels():
    with pytest.raises(ShapeError, match="num_channels must be divisible by num_groups: 6 is not divisible by 4"):
        analyze_one([1, 6, 3], {"type": "GroupNorm", "num_groups": 4})
