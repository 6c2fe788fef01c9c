"""HF importers of the Gemma, MoE (Mixtral, Qwen2/3-MoE, DeepSeek-V2/V3) and Mamba families beyond their
published configs: architecture variants and class defaults against transformers 5.24.0
(tests/reference/hf_moe_gemma_variants_measured.json, made by tests/reference/measure_hf_moe_gemma_variants.py);
refused config keys name themselves; the imported reference configs count as the hand-written zoo specs."""

import json
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError
from archspec.importers import import_spec
from archspec.memory import MemoryOptions, memory

ROOT = Path(__file__).parent.parent.parent
REFERENCE = ROOT / "tests" / "reference"
CONFIGS = REFERENCE / "hf_configs"
MEASURED = json.loads((REFERENCE / "hf_moe_gemma_variants_measured.json").read_text())
SMALL = {"B": 2, "L": 16}
# HF's Gemma embeddings keep their scale, sqrt(hidden_size), as a one-element buffer; the spec multiplies by a constant
SCALE_BUFFER = {"gemma": 1, "gemma2": 1, "gemma3_text": 1}


def _config(family: str, **changes) -> dict:
    """A small reference config with some keys changed (None: left out)."""
    data = json.loads((CONFIGS / f"{family}_small.json").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _variant(variant: dict) -> dict:
    """A measured variant's config: the small config, layer_types left to the class unless overridden."""
    changes = {"layer_types": None, **variant["overrides"]}
    return {**_config(variant["family"], **changes), **dict.fromkeys(variant["set_null"])}


@pytest.mark.parametrize("name", sorted(MEASURED["variants"]))
def test_variants_match_transformers(name):
    variant = MEASURED["variants"][name]
    measured = variant["small"]
    text = import_spec(_variant(variant))
    report = archspec.analyze(text, convention="flopcounter", **SMALL)
    assert report.totals["params"] == measured["params"]
    assert report.totals["flops"] == measured["forward_flops"]
    inference = archspec.analyze(text, **SMALL)
    assert memory(inference, MemoryOptions(training=False, dtype="fp32")).totals["kv_cache"] == measured["kv_cache"]["state_bytes"]
    assert inference.totals.get("buffers", 0) + SCALE_BUFFER.get(variant["family"], 0) == measured["buffers"]


@pytest.mark.parametrize("family", sorted(MEASURED["defaults"]))
def test_missing_keys_take_the_config_class_defaults(family):
    """A config with only model_type (and the keys its class cannot do without) is the class's default model."""
    measured = MEASURED["defaults"][family]
    report = archspec.analyze(import_spec({"model_type": family, **measured["keys"]}))
    assert report.totals["params"] == measured["params"]
    assert report.totals.get("buffers", 0) + SCALE_BUFFER.get(family, 0) == measured["buffers"]


def _nulled(family: str, key: str) -> dict:
    return {**_config(family), key: None}


REFUSED = [
    ("gemma", _config("gemma", use_bidirectional_attention=True), "use_bidirectional_attention"),
    ("gemma2", _config("gemma2", use_bidirectional_attention=True), "use_bidirectional_attention"),
    ("gemma3_text", _config("gemma3_text", use_bidirectional_attention=True), "use_bidirectional_attention"),
    ("gemma2 sliding layers without a window", _nulled("gemma2", "sliding_window"), "layer_types"),
    ("gemma2 activation", _config("gemma2", hidden_activation="gelu_quick"), "hidden_activation"),
    ("mixtral pretraining_tp", _config("mixtral", pretraining_tp=2), "pretraining_tp"),
    ("qwen2_moe sliding layers without use_sliding_window",
     _config("qwen2_moe", layer_types=["sliding_attention", "full_attention"]), "layer_types"),
    ("qwen2_moe mlp_only_layers", _config("qwen2_moe", mlp_only_layers="0,1"), "mlp_only_layers"),
    ("qwen3_moe decoder_sparse_step", _config("qwen3_moe", decoder_sparse_step=0), "decoder_sparse_step"),
    ("deepseek_v2 topk_method", _config("deepseek_v2", topk_method="noaux_tc"), "topk_method"),
    ("deepseek_v2 scoring_func", _config("deepseek_v2", scoring_func="sigmoid"), "scoring_func"),
    ("deepseek_v2 norm_topk_prob", _config("deepseek_v2", norm_topk_prob=True), "norm_topk_prob"),
    ("deepseek_v2 groups without n_group", _config("deepseek_v2", topk_method="group_limited_greedy", n_group=None,
                                                   topk_group=1), "n_group"),
    ("deepseek_v2 groups without topk_group", _config("deepseek_v2", topk_method="group_limited_greedy", n_group=2,
                                                      topk_group=None), "topk_group"),
    ("deepseek_v2 moe_layer_freq", _config("deepseek_v2", moe_layer_freq=2), "moe_layer_freq"),
    ("deepseek_v2 q_proj bias", _config("deepseek_v2", attention_bias=True), "attention_bias"),
    ("deepseek_v3 topk_method", _config("deepseek_v3", topk_method="greedy"), "topk_method"),
    ("deepseek_v3 scoring_func", _config("deepseek_v3", scoring_func="softmax"), "scoring_func"),
    ("deepseek_v3 n_group null", _nulled("deepseek_v3", "n_group"), "n_group"),
    ("deepseek_v3 topk_group null", _nulled("deepseek_v3", "topk_group"), "topk_group"),
    ("deepseek_v3 moe_layer_freq", _config("deepseek_v3", moe_layer_freq=3), "moe_layer_freq"),
    ("mamba activation", _config("mamba", hidden_act="gelu"), "hidden_act"),
    ("mamba width", _config("mamba", intermediate_size=100), "intermediate_size"),
    ("mamba time_step_rank", _config("mamba", time_step_rank="half"), "time_step_rank"),
]


@pytest.mark.parametrize("case, config, key", REFUSED, ids=[case for case, _, _ in REFUSED])
def test_a_refused_key_is_an_error_naming_it(case, config, key):
    with pytest.raises(SpecError) as error:
        import_spec(config)
    assert repr(key) in str(error.value)


# the hand-written zoo specs and the lengths they declare
ZOO = [("mixtral", "mixtral_8x7b", 8192), ("deepseek_v3", "deepseek_v3", 4096), ("mamba", "mamba_130m", 2048),
       ("deepseek_v2", "deepseek_v2_lite", 4096), ("gemma2", "gemma2_9b", 8192)]


@pytest.mark.parametrize("family, spec, length", ZOO)
def test_the_imported_config_counts_as_the_hand_written_spec(family, spec, length):
    imported = archspec.analyze(import_spec(CONFIGS / f"{family}.json"), L=length)
    written = archspec.analyze((ROOT / "specs" / f"{spec}.yaml").read_text(), L=length)
    for total in ("params", "active_params", "macs", "flops", "buffers"):
        assert imported.totals[total] == written.totals[total], total
    cache = [memory(report, MemoryOptions(training=False)).totals["kv_cache"] for report in (imported, written)]
    assert cache[0] == cache[1]


def test_dense_prefix_then_sparse_layers_repeat_by_the_config_keys():
    text = import_spec(CONFIGS / "deepseek_v3.json")
    assert "repeat: first_k_dense_replace}" in text
    assert "repeat: num_hidden_layers - first_k_dense_replace}" in text
    # all layers sparse: one stack, no dense MLP
    text = import_spec(_config("deepseek_v3", first_k_dense_replace=0))
    assert "  MLP:" not in text and "moe:" not in text and "first_k_dense_replace" not in text


def test_qwen2_moe_dense_layers_follow_mlp_only_layers_and_the_sparse_step():
    mixed = archspec.analyze(import_spec(_config("qwen2_moe", num_hidden_layers=4, mlp_only_layers=[0],
                                                 decoder_sparse_step=2, layer_types=None)))
    dense = archspec.analyze(import_spec(_config("qwen2_moe", num_hidden_layers=4, mlp_only_layers=[0, 1, 2, 3],
                                                 layer_types=None)))
    sparse = archspec.analyze(import_spec(_config("qwen2_moe", num_hidden_layers=4, layer_types=None)))
    # layers 1 and 3 sparse ((i + 1) % 2 == 0, 0 not among them anyway): half of each
    assert 2 * mixed.totals["params"] == dense.totals["params"] + sparse.totals["params"]


def test_gemma3_keeps_a_rotary_table_per_base():
    text = import_spec(CONFIGS / "gemma3_text.json")
    assert "{name: rotary_emb, type: RotaryEmbedding, dim: head_dim, base: 1000000.0" in text
    assert "{name: rotary_emb_local, type: RotaryEmbedding, dim: head_dim, base: 10000.0" in text
    # one base for both: one table
    same = import_spec({**_config("gemma3_text"), "rope_parameters": None, "rope_theta": 10000.0, "rope_local_base_freq": 10000.0})
    assert "rotary_emb_local" not in same


def test_gemma2_soft_capping_null_leaves_it_out():
    capped = import_spec(_config("gemma2"))
    assert "softcap: attn_logit_softcapping" in capped and "softcap_tanh" in capped
    plain = import_spec({**_config("gemma2"), "attn_logit_softcapping": None, "final_logit_softcapping": None})
    assert "softcap" not in plain
    # left out: Gemma2Config's defaults, 50 and 30
    default = import_spec(_config("gemma2", attn_logit_softcapping=None, final_logit_softcapping=None))
    assert "attn_logit_softcapping: 50.0" in default and "final_logit_softcapping: 30.0" in default


def test_eager_attention_is_written_for_every_attention_family():
    for family in ("gemma", "gemma2", "gemma3_text", "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3"):
        assert "kernel: eager, from: [input_layernorm, rope]" in import_spec(CONFIGS / f"{family}.json", attention="eager")
