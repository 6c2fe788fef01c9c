"""The GPT-style HF families (gpt2, gpt_neox, gptj, opt, bloom, falcon, phi, phi3, starcoder2, olmo2) beyond
their published configs: architecture variants and class defaults against transformers 5.24.0
(tests/reference/hf_classic_variants_measured.json, made by tests/reference/measure_hf_classic_variants.py),
the keys the converter refuses, and the round trip of GPT-2 against the hand-written specs/gpt2.yaml."""

import json
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError
from archspec.importers import import_spec
from archspec.memory import MemoryOptions, memory

REFERENCE = Path(__file__).parent.parent / "reference"
CONFIGS = REFERENCE / "hf_configs"
SPECS = Path(__file__).parent.parent.parent / "specs"
MEASURED = json.loads((REFERENCE / "hf_classic_variants_measured.json").read_text())
VARIANTS = MEASURED["variants"]
SMALL = {"B": 2, "L": 16}


def _small(family: str, **overrides) -> dict:
    """The family's small config with these keys overridden (None removes a key)."""
    data = json.loads((CONFIGS / f"{family}_small.json").read_text())
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _kv_cache(text: str) -> int:
    report = archspec.analyze(text, **SMALL)
    return memory(report, MemoryOptions(training=False, dtype="fp32")).totals["kv_cache"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_match_transformers(name):
    variant = VARIANTS[name]
    measured = variant["small"]
    text = import_spec(_small(variant["family"], **variant["overrides"]))
    report = archspec.analyze(text, convention="flopcounter", **SMALL)
    assert report.totals["params"] == measured["params"]
    assert report.totals["flops"] == measured["forward_flops"]
    kv = _kv_cache(text)
    if name.startswith("falcon_new_architecture"):
        # HF 5.24's FalconAttention broadcasts each key/value group to its heads before caching them (the
        # header says so): its cache holds num_attention_heads (4) heads where the weights make num_kv_heads (2)
        assert kv * 4 // 2 == measured["kv_cache"]["state_bytes"]
    else:
        assert kv == measured["kv_cache"]["state_bytes"]
    buffers = archspec.analyze(text, **SMALL).totals.get("buffers", 0)
    if name == "falcon_alibi":
        # HF still builds the unused rotary module: head_dim (16) inverse frequencies, twice; left out of the spec
        assert buffers + 16 == measured["buffers"]
    else:
        assert buffers == measured["buffers"]


@pytest.mark.parametrize("family", sorted(MEASURED["defaults"]))
def test_missing_keys_take_the_config_class_defaults(family):
    """A config with only model_type is the config class's default model, with its LM head."""
    measured = MEASURED["defaults"][family]
    report = archspec.analyze(import_spec({"model_type": family}))
    assert report.totals["params"] == measured["params"]
    assert report.totals.get("buffers", 0) == measured["buffers"]


@pytest.mark.parametrize("family, overrides, key", [
    ("gpt2", {"add_cross_attention": True}, "add_cross_attention"),
    ("gpt2", {"activation_function": "quick_gelu"}, "activation_function"),
    ("gpt2", {"n_head": 5}, "n_head"),
    ("gptj", {"rotary_dim": None}, "rotary_dim"),
    ("gptj", {"rotary_dim": 3}, "rotary_dim"),
    ("gpt_neox", {"rope_parameters": {"rope_theta": 10000, "partial_rotary_factor": 0.1875}}, "rope_parameters"),
    ("gpt_neox", {"rope_parameters": None, "rotary_pct": 0.1875}, "rotary_pct"),
    ("bloom", {"slow_but_exact": True, "pretraining_tp": 4}, "pretraining_tp"),
    ("falcon", {"new_decoder_architecture": True, "parallel_attn": False}, "parallel_attn"),
    ("falcon", {"num_ln_in_parallel_attn": 2}, "num_ln_in_parallel_attn"),
    ("falcon", {"num_ln_in_parallel_attn": 3}, "num_ln_in_parallel_attn"),
    ("phi", {"qk_layernorm": True}, "qk_layernorm"),
    ("phi", {"rope_parameters": {"rope_theta": 10000.0, "partial_rotary_factor": 0.33}}, "rope_parameters"),
    ("opt", {"dropout": 1.5}, "dropout"),
])
def test_refused_keys_are_errors_naming_the_key(family, overrides, key):
    data = _small(family)
    data.update(overrides)  # None stays: an explicit null
    with pytest.raises(SpecError, match=f"key '{key}'"):
        import_spec(data)


def test_gpt2_is_the_hand_written_spec():
    """The imported GPT-2 has the params and MACs of specs/gpt2.yaml with lm_head=1, and its training memory
    (default options) differs by what the hand-written spec leaves out of HF's GPT2LMHeadModel exactly."""
    hand = archspec.analyze(SPECS / "gpt2.yaml", lm_head=1)
    config = json.loads((CONFIGS / "gpt2.json").read_text())
    imported = archspec.analyze(import_spec(config))
    for total in ("params", "macs", "flops", "buffers"):
        assert imported.totals.get(total) == hand.totals.get(total)
    hand_memory, imported_memory = memory(hand).totals, memory(imported).totals
    length, width, layers = 1024, 768, 12
    # two residual dropouts per layer (resid_pdrop 0.1: attn.resid_dropout, mlp.dropout), one byte a mask element
    # on CUDA, and the position ids wpe looks up (int64), which HF passes to an Embedding
    masks, position_ids = 2 * layers * length * width, 8 * length
    assert imported_memory["saved_activations"] == hand_memory["saved_activations"] + masks + position_ids
    for total in ("weights", "gradients", "optimizer", "kv_cache", "inference_peak"):
        assert imported_memory[total] == hand_memory[total]
    # without the residual dropouts (and attention dropout, which the fused CUDA kernel keeps nothing more for),
    # only the position ids remain
    plain = memory(archspec.analyze(import_spec({**config, "resid_pdrop": 0.0, "attn_pdrop": 0.0}))).totals
    assert plain["saved_activations"] == hand_memory["saved_activations"] + position_ids


def test_aliases_of_the_config_class_read_as_the_canonical_keys():
    """GPT2Config's attribute_map: hidden_size, num_hidden_layers, ... set n_embd, n_layer, ..."""
    data = _small("gpt2")
    aliased = {key: value for key, value in data.items() if key not in ("n_embd", "n_layer", "n_head", "n_positions")}
    aliased.update(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256)
    assert import_spec(aliased) == import_spec(data)


def test_bare_models_have_no_head_and_causal_lms_have_one():
    assert "lm_head" not in import_spec(_small("opt", architectures=["OPTModel"]))
    assert "lm_head" in import_spec(_small("opt"))


@pytest.mark.parametrize("family", ["gpt2", "gpt_neox", "gptj", "opt", "falcon", "phi", "starcoder2"])
def test_eager_attention_is_written_as_eager(family):
    fused = import_spec(CONFIGS / f"{family}_small.json")
    eager = import_spec(CONFIGS / f"{family}_small.json", attention="eager")
    assert "kernel: eager" not in fused
    assert eager.count("type: Attention") == eager.count("kernel: eager") >= 1


def test_bloom_attention_is_always_eager():
    """BloomAttention has no SDPA path."""
    assert "kernel: eager" in import_spec(CONFIGS / "bloom_small.json")


def test_partial_rotary_tables_are_the_rotated_dims():
    """GPT-NeoX, Phi and Phi-3 (partial_rotary_factor) build the rotary table for the rotated dims only."""
    phi3 = _small("phi3", rope_parameters={"rope_theta": 10000.0, "partial_rotary_factor": 0.75, "rope_type": "default"})
    assert "rotary_ndims: 12" in import_spec(phi3) and "dim: rotary_ndims" in import_spec(phi3)
    assert "rotary_ndims: 4" in import_spec(CONFIGS / "gpt_neox_small.json")
    assert "rotary_ndims: 6" in import_spec(CONFIGS / "phi_small.json")


def test_dropouts_appear_only_where_the_config_sets_them():
    assert "Dropout" not in import_spec(CONFIGS / "gpt2_small.json")  # the small configs set every dropout to 0
    assert import_spec(CONFIGS / "gpt2.json").count("type: Dropout") == 3  # embeddings, attention and MLP outputs
