"""Embedding: a lookup costs no MACs and no FLOPs."""

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import analyze_one


@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.integers(1, 50), st.integers(1, 16))
def test_embedding_costs_only_its_table(shape, rows, dim):
    row = analyze_one(shape, {"type": "Embedding", "num_embeddings": rows, "embedding_dim": dim})
    assert row.output_shape == (*shape, dim)
    assert (row.params, row.macs, row.flops) == (rows * dim, 0, 0)
