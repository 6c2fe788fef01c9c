"""Shape ops: Flatten, Permute, Transpose, Reshape, Unflatten, Mean, CenterCrop; zero-cost layers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError
from tests.helpers import analyze_one


@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.data())
def test_flatten_merges_the_chosen_dims(shape, data):
    rank = len(shape)
    start = data.draw(st.integers(-rank, rank - 1))
    end = data.draw(st.integers(start % rank, rank - 1))
    row = analyze_one(shape, {"type": "Flatten", "start_dim": start, "end_dim": end})
    s = start % rank
    merged = 1
    for d in shape[s : end + 1]:
        merged *= d
    assert row.output_shape == (*shape[:s], merged, *shape[end + 1 :])
    assert (row.params, row.macs, row.flops) == (0, 0, 0)


def test_flatten_dims_out_of_range():
    with pytest.raises(ShapeError, match="start_dim=5 is out of range for a 2-D input"):
        analyze_one([2, 3], {"type": "Flatten", "start_dim": 5})


@pytest.mark.parametrize("layer", ["Identity", "Contiguous", "Dropout", {"type": "Dropout", "p": 0.2}])
def test_zero_cost_layers_keep_the_shape(layer):
    row = analyze_one([2, 7], layer)
    assert row.output_shape == (2, 7)
    assert (row.params, row.macs, row.flops) == (0, 0, 0)


@given(st.permutations(range(4)), st.lists(st.integers(1, 5), min_size=4, max_size=4))
def test_permute_reorders_dims(dims, shape):
    row = analyze_one(shape, {"type": "Permute", "dims": list(dims)})
    assert row.output_shape == tuple(shape[d] for d in dims)
    assert (row.params, row.macs, row.flops) == (0, 0, 0)


def test_permute_must_be_a_permutation():
    with pytest.raises(ShapeError, match=r"dims \[0, 0, 1\] is not a permutation of the 3 dims"):
        analyze_one([1, 2, 3], {"type": "Permute", "dims": [0, 0, 1]})


@given(st.lists(st.integers(1, 5), min_size=2, max_size=5), st.data())
def test_transpose_swaps_two_dims(shape, data):
    a = data.draw(st.integers(-len(shape), len(shape) - 1))
    b = data.draw(st.integers(-len(shape), len(shape) - 1))
    expected = list(shape)
    expected[a], expected[b] = shape[b], shape[a]
    assert analyze_one(shape, {"type": "Transpose", "dim0": a, "dim1": b}).output_shape == tuple(expected)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data())
def test_reshape_keeps_the_element_count_and_infers_one_size(shape, target, data):
    elements = 1
    for d in shape:
        elements *= d
    wanted = 1
    for d in target:
        wanted *= d
    hole = data.draw(st.integers(0, len(target) - 1))
    with_hole = [-1 if i == hole else d for i, d in enumerate(target)]
    rest = wanted // target[hole]
    if elements % rest:
        with pytest.raises(ShapeError, match="cannot be split"):
            analyze_one(shape, {"type": "Reshape", "shape": with_hole})
        return
    row = analyze_one(shape, {"type": "Reshape", "shape": with_hole})
    assert row.output_shape == tuple(elements // rest if i == hole else d for i, d in enumerate(target))
    if wanted != elements:
        with pytest.raises(ShapeError, match=f"holds {wanted} elements, but the input has {elements}"):
            analyze_one(shape, {"type": "Reshape", "shape": target})


def test_reshape_allows_only_one_inferred_size():
    with pytest.raises(ShapeError, match="2 entries of -1"):
        analyze_one([4, 4], {"type": "Reshape", "shape": [-1, -1]})


def test_channel_shuffle_round_trip():
    spec = {
        "inputs": {"x": {"shape": [2, 12, 5, 5]}},
        "layers": [
            {"type": "Unflatten", "dim": 1, "unflattened_size": [3, -1]},
            {"type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "Flatten", "start_dim": 1, "end_dim": 2},
        ],
    }
    report = archspec.analyze(spec)
    assert [row.output_shape for row in report.layers] == [(2, 3, 4, 5, 5), (2, 4, 3, 5, 5), (2, 12, 5, 5)]
    assert report.totals["flops"] == 0


@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.booleans(), st.data())
def test_mean_reduces_the_chosen_dims(shape, keepdim, data):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    row = analyze_one(shape, {"type": "Mean", "dim": dims, "keepdim": keepdim})
    if keepdim:
        expected = tuple(1 if i in dims else s for i, s in enumerate(shape))
    else:
        expected = tuple(s for i, s in enumerate(shape) if i not in dims)
    assert row.output_shape == expected
    elements = 1
    for s in shape:
        elements *= s
    assert row.flops == elements  # (elements - outputs) adds + one division per output


def test_center_crop_to_a_size_or_to_another_input():
    assert analyze_one([1, 3, 9, 8], {"type": "CenterCrop", "size": [5, 4]}).output_shape == (1, 3, 5, 4)
    with pytest.raises(ShapeError, match="cannot crop a size 8 to 9"):
        analyze_one([1, 3, 9, 8], {"type": "CenterCrop", "size": [9]})
    report = archspec.analyze(
        {
            "inputs": {"skip": {"shape": [1, 4, 64, 64]}, "up": {"shape": [1, 4, 56, 56]}},
            "layers": [{"type": "CenterCrop", "from": ["skip", "up"]}],
        }
    )
    assert report.layers[0].output_shape == (1, 4, 56, 56)


@given(st.integers(1, 12), st.integers(-14, 14), st.one_of(st.none(), st.integers(-14, 14)), st.integers(1, 3))
def test_slice_follows_python_slicing(size, start, end, step):
    expected = len(range(size)[start:end:step])
    layer = {"type": "Slice", "dim": 1, "start": start, "end": end, "step": step}
    if expected == 0:
        with pytest.raises(ShapeError, match="is empty"):
            analyze_one([2, size], layer)
        return
    assert analyze_one([2, size], layer).output_shape == (2, expected)


def test_slice_to_a_free_length_and_index_and_expand():
    row = analyze_one([512, 8], {"type": "Slice", "dim": 0, "end": "L"}, {"L": None})
    assert str(row.output_shape[0]) == "L"
    assert analyze_one([2, 197, 8], {"type": "Index", "dim": 1, "index": 0}).output_shape == (2, 8)
    with pytest.raises(ShapeError, match="index 5 is out of range"):
        analyze_one([2, 3], {"type": "Index", "dim": 1, "index": 5})
    assert analyze_one([1, 1, 8], {"type": "Expand", "sizes": [4, -1, 3, -1]}).output_shape == (4, 1, 3, 8)
    with pytest.raises(ShapeError, match="cannot expand a dim of size 2 to 3"):
        analyze_one([2, 8], {"type": "Expand", "sizes": [3, 8]})
