"""BatchNorm1d/2d/3d: params, buffers (as torch.nn keeps them) and FLOPs."""

import pytest

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
