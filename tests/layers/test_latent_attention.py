"""Multi-head latent attention against HF's weight shapes and a brute-force count of its matmuls."""

import json
from math import prod

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from tests.conftest import ROOT

MEASURED = json.loads((ROOT / "tests" / "reference" / "llm_decoders_measured.json").read_text())["models"]


def spec(length, width, heads, q_rank, kv_rank, nope, rope, v, past=0, batch=1):
    layer = {"name": "attn", "type": "LatentAttention", "num_heads": heads, "q_lora_rank": q_rank, "kv_lora_rank": kv_rank,
             "qk_nope_head_dim": nope, "qk_rope_head_dim": rope, "v_head_dim": v, "past": past, "from": ["x", "rope"]}
    return {
        "inputs": {"x": {"shape": [batch, length, width]}},
        "layers": [{"name": "rope", "type": "RotaryEmbedding", "dim": rope}, layer],
    }


CONFIGS = {  # spec params -> HF config keys, from the measured configs
    "deepseek_v2_lite": dict(width=2048, heads=16, q_rank=0, kv_rank=512, nope=128, rope=64, v=128),
    "deepseek_v3": dict(width=7168, heads=128, q_rank=1536, kv_rank=512, nope=128, rope=64, v=128),
}


@pytest.mark.parametrize("model", CONFIGS)
def test_params_are_the_sum_of_hf_attention_weight_shapes(model):
    shapes = MEASURED[model]["full"]["breakdown"]["moe_layer"]["param_shapes"]["attention"]
    expected = sum(prod(shape) for shape in shapes.values())
    row = archspec.analyze(spec(4, **CONFIGS[model])).layers[1]
    assert row.params == expected


def brute_force_macs(batch, length, width, heads, q_rank, kv_rank, nope, rope, v, past):
    """Every matmul, token by token: the query path, the latent and rotary key, the latent
    projected up for every position held (past and new, as HF does), the scores of each new
    query against every held key, and the output projection."""
    total = 0
    for _ in range(batch):
        for _ in range(length):
            total += width * q_rank + q_rank * heads * (nope + rope) if q_rank else width * heads * (nope + rope)
            total += width * (kv_rank + rope)
            total += heads * v * width
        total += (past + length) * kv_rank * heads * (nope + v)
        for _ in range(heads):
            for _ in range(length):
                keys = past + length
                total += keys * (nope + rope) + keys * v  # q . k over each key, then sum of weights x v
    return total


@given(st.integers(1, 2), st.integers(1, 5), st.integers(0, 4), st.sampled_from([0, 3]), st.integers(1, 3))
def test_macs_equal_the_sum_of_its_matmuls(batch, length, past, q_rank, heads):
    sizes = dict(width=8, heads=heads, q_rank=q_rank, kv_rank=4, nope=2, rope=2, v=3)
    row = archspec.analyze(spec(length, **sizes, past=past, batch=batch)).layers[1]
    assert row.macs == brute_force_macs(batch, length, **sizes, past=past)


def test_the_cache_holds_the_latent_and_the_rotary_key_per_token():
    row = archspec.analyze(spec(7, **CONFIGS["deepseek_v3"], past=5, batch=3)).layers[1]
    assert row.kv_cache == 3 * (5 + 7) * (512 + 64)
    assert row.kv_cache_read == 3 * 5 * (512 + 64)
