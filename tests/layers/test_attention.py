"""Attention and MultiheadAttention against a brute-force sum over the individual matmuls."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError
from tests.helpers import analyze_one


def matmul_macs(n, k, m):
    return n * k * m


def brute_force_macs(batch, length, keys, dim, heads, kv_heads, head_dim, causal_pairs=False):
    """Every matmul of the layer, one by one: per sample, the four projections, then per
    head Q K^T and P V over the scored (query, key) pairs."""
    total = 0
    for _ in range(batch):
        total += matmul_macs(length, dim, heads * head_dim)  # Q
        total += matmul_macs(keys, dim, kv_heads * head_dim)  # K
        total += matmul_macs(keys, dim, kv_heads * head_dim)  # V
        for _ in range(heads):
            for query in range(length):
                scored = query + 1 if causal_pairs else keys
                total += matmul_macs(1, head_dim, scored)  # one row of Q K^T
                total += matmul_macs(1, scored, head_dim)  # that row of P V
        total += matmul_macs(length, heads * head_dim, dim)  # output projection
    return total


@given(
    st.integers(1, 2), st.integers(1, 6), st.sampled_from([1, 2, 4]), st.sampled_from([1, 2]), st.integers(1, 4), st.booleans()
)
def test_attention_macs_equal_the_sum_of_its_matmuls(batch, length, heads, groups, head_dim, causal_half):
    kv_heads = max(1, heads // groups)
    dim = heads * head_dim
    layer = {"type": "Attention", "num_heads": heads, "num_kv_heads": kv_heads, "causal": causal_half, "causal_macs": causal_half}
    row = analyze_one([batch, length, dim], layer)
    assert row.macs == brute_force_macs(batch, length, length, dim, heads, kv_heads, head_dim, causal_half)
    assert row.output_shape == (batch, length, dim)


def test_attention_is_quadratic_in_the_sequence_length():
    row = analyze_one([1, "L", 64], {"type": "Attention", "num_heads": 4, "qkv_bias": False, "out_bias": False}, {"L": None})
    assert str(row.macs) == "128*L**2 + 16384*L"  # 2 * L^2 * 64 for the scores, 4 * 64 * 64 * L for the projections


def test_multi_query_has_fewer_params_by_exactly_the_removed_key_value_projections():
    dim, heads, head_dim = 256, 8, 32
    full = analyze_one([1, 16, dim], {"type": "Attention", "num_heads": heads})
    mqa = analyze_one([1, 16, dim], {"type": "Attention", "num_heads": heads, "num_kv_heads": 1})
    removed_heads = heads - 1
    assert full.params - mqa.params == 2 * removed_heads * head_dim * (dim + 1)  # K and V weights and biases


def test_multihead_attention_matches_torch_layout_and_params():
    # torch.nn.MultiheadAttention(512, 8): in_proj 3*512*512 + 3*512, out_proj 512*512 + 512
    row = analyze_one([128, 2, 512], {"type": "MultiheadAttention", "embed_dim": 512, "num_heads": 8})
    assert row.params == 4 * 512 * 512 + 4 * 512
    assert row.macs == brute_force_macs(2, 128, 128, 512, 8, 8, 64)
    report = archspec.analyze(
        {
            "inputs": {"q": {"shape": [2, 10, 64]}, "kv": {"shape": [2, 7, 32]}},
            "layers": [{"type": "MultiheadAttention", "embed_dim": 64, "num_heads": 4, "kdim": 32, "vdim": 32, "batch_first": True, "from": ["q", "kv", "kv"]}],
        }
    )
    row = report.layers[0]
    assert row.params == 64 * 64 + 2 * 64 * 32 + 3 * 64 + 64 * 64 + 64
    assert row.macs == 2 * (10 * 64 * 64 + 2 * 7 * 32 * 64 + 2 * 4 * 10 * 7 * 16 + 10 * 64 * 64)


def test_attention_errors():
    with pytest.raises(ShapeError, match="num_heads must be a multiple of num_kv_heads"):
        analyze_one([1, 4, 24], {"type": "Attention", "num_heads": 6, "num_kv_heads": 4})
    with pytest.raises(ShapeError, match="embed dim / num_heads: 30 is not divisible by 4"):
        analyze_one([1, 4, 30], {"type": "Attention", "num_heads": 4})
