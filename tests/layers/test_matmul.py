"""Matmul and Einsum: shapes and MACs against an enumeration of the products."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError, SpecError


def run(a, b, layer):
    spec = {"inputs": {"a": {"shape": list(a)}, "b": {"shape": list(b)}}, "layers": [{**layer, "from": ["a", "b"]}]}
    return archspec.analyze(spec).layers[0]


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_matmul_counts_one_mac_per_product(batch, n, k, m, broadcast_b):
    b_shape = (k, m) if broadcast_b else (batch, k, m)
    row = run((batch, n, k), b_shape, {"type": "Matmul"})
    assert row.output_shape == (batch, n, m)
    products = sum(1 for _ in itertools.product(range(batch), range(n), range(m), range(k)))
    assert row.macs == products


def test_matmul_vectors_and_mismatch():
    assert run((5,), (5, 3), {"type": "Matmul"}).output_shape == (3,)
    assert run((2, 5), (5,), {"type": "Matmul"}).output_shape == (2,)
    with pytest.raises(ShapeError, match=r"inner sizes 5 and 4 differ"):
        run((2, 5), (4, 3), {"type": "Matmul"})


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_einsum_attention_scores(b, h, q, k, d):
    row = run((b, h, q, d), (b, h, k, d), {"type": "Einsum", "equation": "bhqd,bhkd->bhqk"})
    assert row.output_shape == (b, h, q, k)
    assert row.macs == sum(1 for _ in itertools.product(range(b), range(h), range(q), range(k), range(d)))


def test_einsum_errors():
    with pytest.raises(ShapeError, match="index 'k' is 3 in one input and 4 in another"):
        run((2, 3), (4, 5), {"type": "Einsum", "equation": "ik,kj->ij"})
    with pytest.raises(SpecError, match="repeats an index"):
        run((2, 2), (2, 2), {"type": "Einsum", "equation": "ii,ij->j"})
