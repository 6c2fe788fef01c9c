"""Upsample: output sizes as PyTorch computes them, and the interpolation FLOPs."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.errors import ShapeError, SpecError
from tests.helpers import analyze_one


@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 2, 3, 1.5, 0.5, 2.5]), st.sampled_from(["nearest", "bilinear"]))
def test_scale_factor_floors_the_scaled_size(h, w, factor, mode):
    layer = {"type": "Upsample", "scale_factor": factor, "mode": mode}
    out = (math.floor(h * factor), math.floor(w * factor))
    if min(out) < 1:
        with pytest.raises(ShapeError, match="empty dimension"):
            analyze_one([1, 2, h, w], layer)
        return
    row = analyze_one([1, 2, h, w], layer)
    assert row.output_shape == (1, 2, *out)
    per_output = 0 if mode == "nearest" else 4 + 3  # 4 weights times 4 neighbours, 3 adds
    assert row.flops == 2 * out[0] * out[1] * per_output


def test_size_or_scale_factor_but_not_both():
    assert analyze_one([1, 2, 5, 5], {"type": "Upsample", "size": [7, 9]}).output_shape == (1, 2, 7, 9)
    with pytest.raises(SpecError, match="either size or scale_factor"):
        analyze_one([1, 2, 5, 5], {"type": "Upsample", "size": 7, "scale_factor": 2})
