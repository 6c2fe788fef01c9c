"""Flatten, Identity, Dropout: shapes only, no cost."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@pytest.mark.parametrize("layer", ["Identity", "Dropout", {"type": "Dropout", "p": 0.2}])
def test_zero_cost_layers_keep_the_shape(layer):
    row = analyze_one([2, 7], layer)
    assert row.output_shape == (2, 7)
    assert (row.params, row.macs, row.flops) == (0, 0, 0)
