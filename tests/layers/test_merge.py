"""Add, Mul, Concat, Split, Chunk: broadcasting and splitting against independent rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError


def run(shapes, layer):
    """One multi-input layer applied to inputs x0, x1, ... of the given shapes."""
    names = [f"x{i}" for i in range(len(shapes))]
    spec = {
        "inputs": {name: {"shape": list(shape)} for name, shape in zip(names, shapes)},
        "layers": [{**layer, "from": names}],
    }
    return archspec.analyze(spec).layers[0]


def broadcast_by_enumeration(a, b):
    """The result shape from indexing: an output index must map to a valid index of each input."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        candidates = [n for n in range(1, max(x, y) + 1) if all(s in (1, n) for s in (x, y))]
        if not candidates or max(x, y) not in candidates:
            return None
        out.append(max(x, y))
    return tuple(out)


@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
    st.sampled_from(["Add", "Mul"]),
)
def test_add_and_mul_broadcast_like_pytorch(a, b, kind):
    expected = broadcast_by_enumeration(a, b)
    if expected is None:
        with pytest.raises(ShapeError, match="cannot broadcast"):
            run([a, b], {"type": kind})
        return
    row = run([a, b], {"type": kind})
    assert row.output_shape == expected
    elements = 1
    for d in expected:
        elements *= d
    assert (row.params, row.macs, row.flops) == (0, 0, elements)


def test_three_way_add_costs_two_ops_per_element():
    row = run([[2, 3], [2, 3], [1, 3]], {"type": "Add"})
    assert row.flops == 2 * 6


@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(1, 5), st.data())
def test_concat_sums_the_chosen_dim(shape, extra, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    other = list(shape)
    other[dim] = extra
    row = run([shape, other], {"type": "Concat", "dim": dim})
    expected = list(shape)
    expected[dim] = shape[dim] + extra
    assert row.output_shape == tuple(expected)
    assert (row.params, row.macs, row.flops) == (0, 0, 0)


@given(st.integers(1, 20), st.integers(1, 8))
def test_chunk_and_split_pieces_cover_the_dim_like_torch(size, pieces):
    chunk = run([[2, size]], {"type": "Chunk", "chunks": pieces, "dim": 1})
    # torch.chunk: pieces of ceil(size / chunks), the last one smaller, as many as needed.
    step = -(-size // pieces)
    assert [s[1] for s in chunk.output_shapes] == [min(step, size - start) for start in range(0, size, step)]
    split = run([[2, size]], {"type": "Split", "split_size_or_sections": pieces, "dim": 1})
    assert [s[1] for s in split.output_shapes] == [min(pieces, size - start) for start in range(0, size, pieces)]
    assert sum(s[1] for s in split.output_shapes) == size


def test_split_sections_must_sum_to_the_dim():
    with pytest.raises(ShapeError, match=r"split sizes \[2, 2\] sum to 4, but the dim has size 5"):
        run([[5, 3]], {"type": "Split", "split_size_or_sections": [2, 2]})


def test_symbolic_chunk_of_an_even_dim():
    spec = {
        "params": {"C": None},
        "inputs": {"x": {"shape": [1, "2*C", 4]}},
        "layers": [{"name": "halves", "type": "Chunk", "chunks": 2, "dim": 1}],
        "outputs": ["halves.0", "halves.1"],
    }
    report = archspec.analyze(spec)
    assert [str(s[1]) for s in report.outputs.values()] == ["C", "C"]
