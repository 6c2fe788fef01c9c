"""Tensor ops that move or select data (archspec/layers/tensor_ops.py), against numpy on small
tensors: numpy computes the output shapes (and the elements touched) independently."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.memory import MemoryOptions, memory
from tests.helpers import analyze_one, analyze_over

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)


@given(shapes, st.data())
def test_pad_shapes_equal_numpy(shape, data):
    dims = data.draw(st.integers(1, len(shape)))
    pad = [data.draw(st.integers(0, 3)) for _ in range(2 * dims)]
    # F.pad lists (before, after) from the last dim backwards; numpy takes them per dim, first dim first
    widths = [(0, 0)] * (len(shape) - dims) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(dims))]
    expected = np.pad(np.zeros(shape), widths).shape
    row = analyze_one(shape, {"type": "Pad", "pad": pad})
    assert row.output_shape == expected and row.flops == 0


def test_reflect_padding_needs_a_larger_dim():
    with pytest.raises(archspec.ShapeError, match="reflect padding of 3"):
        analyze_one([1, 3], {"type": "Pad", "pad": [3, 0], "mode": "reflect"})


@given(shapes, st.data())
def test_roll_stack_repeat_shapes_equal_numpy(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert analyze_one(shape, {"type": "Roll", "shifts": [2], "dims": [dim]}).output_shape == np.roll(np.zeros(shape), 2, dim).shape
    count = data.draw(st.integers(1, 3))
    stacked = analyze_over([shape] * count, {"type": "Stack", "dim": 0})
    assert stacked.output_shape == np.stack([np.zeros(shape)] * count).shape
    repeats = [data.draw(st.integers(1, 3)) for _ in range(len(shape) + data.draw(st.integers(0, 1)))]
    assert analyze_one(shape, {"type": "Repeat", "repeats": repeats}).output_shape == np.tile(np.zeros(shape), repeats).shape


@given(shapes, st.data())
def test_indexing_shapes_equal_numpy_and_keep_the_index(shape, data):
    index_shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    table = np.zeros(shape)
    index = np.zeros(index_shape, dtype=np.int64)
    take = analyze_over([shape, index_shape], {"type": "Take"})
    assert take.output_shape == table[index].shape
    dim = data.draw(st.integers(0, len(shape) - 1))
    selected = analyze_over([shape, [index_shape[0]]], {"type": "IndexSelect", "dim": dim})
    assert selected.output_shape == np.take(table, np.zeros(index_shape[0], dtype=np.int64), axis=dim).shape
    # torch.gather: index dims at most the input's off the gathered dim; numpy needs them equal, so slice
    gather_index = [data.draw(st.integers(1, 4)) if d == dim else data.draw(st.integers(1, s)) for d, s in enumerate(shape)]
    gathered = analyze_over([shape, gather_index], {"type": "Gather", "dim": dim})
    sliced = table[tuple(slice(None) if d == dim else slice(0, g) for d, g in enumerate(gather_index))]
    assert gathered.output_shape == np.take_along_axis(sliced, np.zeros(gather_index, dtype=np.int64), axis=dim).shape


def test_the_index_is_kept_for_backward_at_its_dtype():
    spec = {
        "inputs": {"table": {"shape": [169, 4], "requires_grad": True}, "index": {"shape": [49, 49], "dtype": "int64"}},
        "layers": [{"type": "Take", "from": ["table", "index"]}],
    }
    assert memory(archspec.analyze(spec), MemoryOptions()).totals["saved_activations"] == 49 * 49 * 8


@given(shapes, st.data())
def test_cumsum_adds_one_less_than_each_row(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    rows = int(np.prod(shape)) // shape[dim]
    adds = rows * (shape[dim] - 1)  # each prefix sum after the first adds one element
    assert analyze_one(shape, {"type": "Cumsum", "dim": dim}).flops == adds


def test_topk_and_sort_count_their_comparisons_and_give_two_outputs():
    spec = {"inputs": {"x": {"shape": [3, 10]}}, "layers": [
        {"name": "top", "type": "TopK", "k": 2}, {"name": "values", "type": "Identity", "from": "top.0"},
        {"name": "sorted", "type": "Sort", "from": "x"}, {"name": "order", "type": "Identity", "from": "sorted.1"},
    ], "outputs": ["values", "order"]}
    rows = {row.name: row for row in archspec.analyze(spec).layers}
    assert rows["top"].output_shapes == ((3, 2), (3, 2))
    assert rows["top"].flops == 3 * 2 * 9  # k passes of a maximum over 10: 9 comparisons each
    assert rows["sorted"].flops == 3 * 10 * 4  # F * ceil(log2 F) for F = 10


def test_interpolate_is_upsample_called_as_a_function():
    row = analyze_one([1, 3, 8, 8], {"type": "Interpolate", "scale_factor": 2, "mode": "bilinear"})
    assert row.output_shape == (1, 3, 16, 16)
    assert row.flops == analyze_one([1, 3, 8, 8], {"type": "Upsample", "scale_factor": 2, "mode": "bilinear"}).flops


def test_shifts_and_pad_amounts_are_expressions_and_may_be_negative():
    spec = {
        "params": {"window": 7},
        "inputs": {"x": {"shape": [1, 14, 14, 8]}},
        "layers": [
            {"type": "Roll", "shifts": ["-(window // 2)", "-(window // 2)"], "dims": [1, 2]},
            {"type": "Pad", "pad": [0, 0, "-(window // 2)", 1]},
        ],
    }
    report = archspec.analyze(spec)
    assert tuple(report.layers[0].layer.shifts) == (-3, -3)
    # a negative amount crops, as F.pad does: numpy crops, then pads
    cropped_then_padded = np.pad(np.zeros((1, 14, 14, 8))[:, :, 3:, :], [(0, 0), (0, 0), (0, 1), (0, 0)])
    assert report.layers[1].output_shape == cropped_then_padded.shape
    with pytest.raises(archspec.ArchspecError, match="leaves 0 elements"):
        archspec.analyze({"inputs": {"x": {"shape": [1, 4]}}, "layers": [{"type": "Pad", "pad": [-2, -2]}]})
