"""Activations and softmax: shape-preserving, costs from the per-element table."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.costs import PER_ELEMENT_FLOPS
from tests.helpers import analyze_one

ELEMENTWISE = ["ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "Hardswish", "Hardsigmoid"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_cost_is_numel_times_the_table_entry(name):
    row = analyze_one([2, 3, 4, 5], name)
    assert row.output_shape == (2, 3, 4, 5)
    assert (row.params, row.macs) == (0, 0)
    assert row.flops == 120 * PER_ELEMENT_FLOPS[name].flops


def test_gelu_tanh_approximation_costs_more():
    row = analyze_one([10], {"type": "GELU", "approximate": "tanh"})
    assert row.flops == 10 * PER_ELEMENT_FLOPS["GELU-tanh"].flops


def softmax_flops_by_rows(shape, dim):
    """Per row along dim: F-1 max comparisons, F subtractions, F exps, F-1 adds, F divisions."""
    features = shape[dim]
    rows = 1
    for i, d in enumerate(shape):
        if i != dim:
            rows *= d
    per_row = (features - 1) + features + features + (features - 1) + features
    return rows * per_row


@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.data())
def test_softmax_counts_each_row(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    row = analyze_one(shape, {"type": "Softmax", "dim": dim})
    assert row.output_shape == tuple(shape)
    assert row.flops == softmax_flops_by_rows(shape, dim % len(shape))


def test_softmax_without_dim_follows_pytorch_legacy_choice():
    assert analyze_one([4, 10], "Softmax").flops == softmax_flops_by_rows([4, 10], 1)
    assert analyze_one([3, 4, 10], "Softmax").flops == softmax_flops_by_rows([3, 4, 10], 0)
