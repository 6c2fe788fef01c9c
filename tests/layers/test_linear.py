"""Linear: any leading dims, inferred in_features, bias."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.errors import ShapeError
from tests.helpers import analyze_one


@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.integers(1, 64), st.integers(1, 64), st.booleans())
def test_counts_over_any_leading_dims(leading, n_in, n_out, bias):
    row = analyze_one([*leading, n_in], {"type": "Linear", "out_features": n_out, "bias": bias})
    rows = 1
    for d in leading:
        rows *= d
    assert row.output_shape == (*leading, n_out)
    assert row.params == n_in * n_out + (n_out if bias else 0)
    assert row.macs == rows * n_in * n_out
    assert row.flops == 2 * rows * n_in * n_out + (rows * n_out if bias else 0)


def test_linear_64_to_10_matches_the_peer_figures():
    # nn.Linear(64, 10) on 1x64: 650 params; thop and fvcore report 640 MACs (bias not a MAC).
    row = analyze_one([1, 64], {"type": "Linear", "out_features": 10})
    assert (row.params, row.macs, row.flops) == (650, 640, 1290)


def test_in_features_mismatch_names_both_values():
    with pytest.raises(ShapeError, match="in_features=100 but the input gives in_features=64"):
        analyze_one([1, 64], {"type": "Linear", "in_features": 100, "out_features": 10})
