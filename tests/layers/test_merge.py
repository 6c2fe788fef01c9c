"""Concat, Split, Chunk: joining and splitting against independent rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError
from tests.helpers import analyze_over


@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(1, 5), st.data())
def test_concat_sums_the_chosen_dim(shape, extra, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    other = list(shape)
    other[dim] = extra
    row = analyze_over([shape, other], {"type": "Concat", "dim": dim})
    expected = list(shape)
    expected[dim] = shape[dim] + extra
    assert row.output_shape == tuple(expected)
    assert (row.params, row.macs, row.flops) == (0, 0, 0)


@given(st.integers(1, 20), st.integers(1, 8))
def test_chunk_and_split_pieces_cover_the_dim_like_torch(size, pieces):
    chunk = analyze_over([[2, size]], {"type": "Chunk", "chunks": pieces, "dim": 1})
    # torch.chunk: pieces of ceil(size / chunks), the last one smaller, as many as needed.
    step = -(-size // pieces)
    assert [s[1] for s in chunk.output_shapes] == [min(step, size - start) for start in range(0, size, step)]
    split = analyze_over([[2, size]], {"type": "Split", "split_size_or_sections": pieces, "dim": 1})
    assert [s[1] for s in split.output_shapes] == [min(pieces, size - start) for start in range(0, size, pieces)]
    assert sum(s[1] for s in split.output_shapes) == size


def test_split_sections_must_sum_to_the_dim():
    with pytest.raises(ShapeError, match=r"split sizes \[2, 2\] sum to 4, but the dim has size 5"):
        analyze_over([[5, 3]], {"type": "Split", "split_size_or_sections": [2, 2]})


def test_symbolic_chunk_of_an_even_dim():
    spec = {
        "params": {"C": None},
        "inputs": {"x": {"shape": [1, "2*C", 4]}},
        "layers": [{"name": "halves", "type": "Chunk", "chunks": 2, "dim": 1}],
        "outputs": ["halves.0", "halves.1"],
    }
    report = archspec.analyze(spec)
    assert [str(s[1]) for s in report.outputs.values()] == ["C", "C"]


@pytest.mark.parametrize("layer, pieces", [
    ({"type": "Split", "split_size_or_sections": 1, "dim": 1}, "1,099,511,627,776"),  # never ended before
    ({"type": "Chunk", "chunks": 2**40, "dim": 1}, "1,099,511,627,776"),
    ({"type": "Chunk", "chunks": 60_000, "dim": 1}, "60,000"),
])
def test_more_pieces_than_a_spec_may_have_layers_are_refused(layer, pieces):
    with pytest.raises(ShapeError, match=f"makes {pieces} pieces; at most 50,000"):
        analyze_over([[1, 2**40]], layer)
