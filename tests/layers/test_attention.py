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


# ---- sliding windows, the KV cache, decode steps --------------------------------------------
def visible_pairs(queries, past, window):
    """Enumerate the (query, key) pairs a causal mask with a sliding window keeps: the query at
    position past + i sees keys j with past + i - window < j <= past + i (window 0: no window)."""
    count = 0
    for i in range(queries):
        position = past + i
        for key in range(position + 1):
            if window == 0 or key > position - window:
                count += 1
    return count


@given(st.integers(1, 9), st.integers(0, 12), st.sampled_from([0, 1, 2, 3, 5, 16]), st.integers(1, 3))
def test_windowed_causal_pairs_equal_an_enumeration(length, past, window, head_dim):
    heads, dim = 2, 2 * head_dim
    layer = {"type": "Attention", "num_heads": heads, "causal": True, "causal_macs": True, "window": window, "past": past,
             "qkv_bias": False, "out_bias": False}
    row = analyze_one([1, length, dim], layer)
    projections = length * dim * dim * 4  # Q, K, V of the new tokens, and the output
    assert row.macs == projections + 2 * heads * head_dim * visible_pairs(length, past, window)


@given(st.integers(1, 9), st.integers(0, 12), st.sampled_from([0, 2, 5]))
def test_a_dense_kernel_scores_every_cached_key(length, past, window):
    # the dense kernel scores the keys it holds: the new ones and the cached ones (window - 1 of them)
    cached = min(past, window - 1) if window else past
    row = analyze_one([1, length, 4], {"type": "Attention", "num_heads": 1, "causal": True, "window": window, "past": past,
                                       "qkv_bias": False, "out_bias": False})
    assert row.macs == 4 * length * 4 * 4 + 2 * 4 * length * (cached + length)


@given(st.integers(1, 9), st.integers(0, 12), st.sampled_from([0, 2, 5]), st.sampled_from([1, 2]))
def test_the_kv_cache_keeps_the_window_minus_one_latest_tokens(length, past, window, kv_heads):
    # HF's DynamicSlidingWindowLayer keeps the last sliding_window - 1 tokens (cache_utils.py)
    kept = list(range(past + length))
    if window:
        kept = kept[-(window - 1):] if window > 1 else []
    layer = {"type": "Attention", "num_heads": 2, "num_kv_heads": kv_heads, "head_dim": 3, "v_head_dim": 5, "causal": True,
             "window": window, "past": past}
    row = analyze_one([2, length, 6], layer)
    assert row.kv_cache == 2 * len(kept) * kv_heads * (3 + 5)
    read = list(range(past))[-(window - 1):] if window > 1 else ([] if window else list(range(past)))
    assert row.kv_cache_read == 2 * len(read) * kv_heads * (3 + 5)


def test_cross_attention_caches_the_memory_and_the_formula_keeps_its_length():
    spec = {
        "params": {"B": 2, "T": 5, "S": 7},
        "inputs": {"x": {"shape": ["B", "T", 16]}, "m": {"shape": ["B", "S", 16]}},
        "layers": [{"type": "Attention", "num_heads": 4, "from": ["x", "m"]}],
    }
    assert archspec.analyze(spec).layers[0].kv_cache == 2 * 7 * 2 * 16  # B * S * (K and V of 4 heads of 4)
    free = archspec.analyze(spec, S=None, B=None).layers[0].kv_cache
    assert {str(s) for s in free.free_symbols} == {"B", "S"}


def test_per_projection_biases_and_value_head_dim_count_their_weights():
    # Whisper: no key bias; a value head dim different from the query/key head dim
    layer = {"type": "Attention", "num_heads": 2, "head_dim": 3, "v_head_dim": 5, "k_bias": False}
    row = analyze_one([1, 4, 8], layer)
    q, k, v, o = 8 * 6 + 6, 8 * 6, 8 * 10 + 10, 10 * 8 + 8  # weight shapes and biases
    assert row.params == q + k + v + o
    assert row.macs == 4 * (8 * 6 + 8 * 6 + 8 * 10 + 10 * 8) + 2 * 4 * 4 * (3 + 5)


def test_score_operations_add_their_stated_flops_per_score():
    base = {"type": "Attention", "num_heads": 2, "qkv_bias": False, "out_bias": False}
    scores, rows = 2 * 6 * 6, 2 * 6  # H * L * S, H * L
    plain = analyze_one([1, 6, 8], base)
    assert plain.flops - 2 * plain.macs == scores * (1 + 5) - 2 * rows  # scale; softmax 5 per score - 2 per row
    unscaled = analyze_one([1, 6, 8], {**base, "scale": 1})
    assert plain.flops - unscaled.flops == scores  # T5: no multiply by the scale
    capped = analyze_one([1, 6, 8], {**base, "softcap": 50})
    assert capped.flops - plain.flops == 3 * scores  # divide by the cap, tanh, multiply by the cap


def test_rotary_embedding_rotates_queries_and_keys():
    spec = {
        "inputs": {"x": {"shape": [1, 6, 16]}},
        "layers": [
            {"name": "rope", "type": "RotaryEmbedding", "dim": 4},
            {"name": "attn", "type": "Attention", "num_heads": 4, "num_kv_heads": 2, "rotary": True, "from": ["x", "rope"]},
        ],
    }
    rows = {row.name: row for row in archspec.analyze(spec).layers}
    assert rows["rope"].output_shape == (1, 6, 8)
    plain = analyze_one([1, 6, 16], {"type": "Attention", "num_heads": 4, "num_kv_heads": 2})
    # q*cos + rotate_half(q)*sin per pair of rotated dims: 4 multiplies, 2 adds, 1 negation
    rotated_pairs = 6 * (4 + 2) * 4 // 2  # L * (query heads + key heads) * dim / 2
    assert rows["attn"].flops - plain.flops == 7 * rotated_pairs
    assert rows["attn"].macs == plain.macs


def test_formulas_in_the_window_and_the_length_equal_the_enumeration():
    from archspec.dims import evaluate_at

    layer = {"type": "Attention", "num_heads": 1, "head_dim": 1, "causal": True, "causal_macs": True, "window": "W",
             "qkv_bias": False, "out_bias": False}
    row = analyze_one([1, "L", 1], layer, {"L": 1, "W": 1}, L=None, W=None)
    for length in range(1, 12):
        for window in range(1, 14):
            pairs = visible_pairs(length, 0, window)
            assert evaluate_at(row.macs, {"L": length, "W": window}) == 4 * length + 2 * pairs
            assert evaluate_at(row.kv_cache, {"L": length, "W": window}) == 2 * min(length, window - 1)
