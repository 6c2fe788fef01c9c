"""Reference figures for the config variants of the GPT-style families the importer builds (gpt2, gpt_neox, gptj,
opt, bloom, falcon, phi, phi3, starcoder2, olmo2) beyond the published configs of hf_families_measured.json.

Standalone (needs torch and transformers; not run by the tests):

    python tests/reference/measure_hf_classic_variants.py

Writes tests/reference/hf_classic_variants_measured.json:
  - "variants": each a family's hf_configs/<family>_small.json with some keys overridden ("overrides": an architecture
    switch such as OPT's do_layer_norm_before, Falcon's new_decoder_architecture, a legacy key such as rotary_pct);
    a key mapped to null is removed. Measured as measure_hf_families.py measures a small instance: params and
    buffers, FlopCounterMode's forward FLOPs (use_cache=False) and the cache's state bytes (use_cache=True), float32
    CPU, seed 0, eval, attn_implementation='eager', token ids (B, L) = (2, 16).
  - "defaults": params and buffers of each family's config class with no key set (the class defaults), built as the
    family's *ForCausalLM / *LMHeadModel on torch.device('meta').
"""
import copy
import datetime
import json
import os
import sys

import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure_hf_families import cache_bytes, counts, forward_flops, make_inputs, write_json  # noqa: E402

transformers.logging.set_verbosity_error()
OUT = os.path.join(HERE, "hf_classic_variants_measured.json")

VARIANTS = {
    "gpt2_unscaled_relu": ("gpt2", dict(scale_attn_weights=False, scale_attn_by_inverse_layer_idx=True, n_inner=None,
                                        activation_function="relu")),
    "gpt2_bare_model": ("gpt2", dict(architectures=["GPT2Model"])),
    "gpt_neox_sequential": ("gpt_neox", dict(use_parallel_residual=False, attention_bias=False, tie_word_embeddings=True)),
    "gpt_neox_legacy_rotary_pct": ("gpt_neox", dict(rope_parameters=None, rotary_pct=0.5, rotary_emb_base=10000)),
    "gptj_rotary_8_tied": ("gptj", dict(rotary_dim=8, n_inner=None, tie_word_embeddings=True)),
    "opt_350m_layout": ("opt", dict(do_layer_norm_before=False, word_embed_proj_dim=32)),
    "opt_no_bias_no_affine": ("opt", dict(enable_bias=False, layer_norm_elementwise_affine=False,
                                          _remove_final_layer_norm=True)),
    "bloom_post_layernorm_residual": ("bloom", dict(apply_residual_connection_post_layernorm=True)),
    "falcon_sequential_mha_bias": ("falcon", dict(multi_query=False, parallel_attn=False, bias=True,
                                                  ffn_hidden_size=None)),
    "falcon_parallel_mha": ("falcon", dict(multi_query=False)),
    "falcon_alibi": ("falcon", dict(alibi=True, multi_query=False, parallel_attn=False, bias=True)),
    "falcon_new_architecture": ("falcon", dict(new_decoder_architecture=True, num_kv_heads=2)),
    "falcon_new_architecture_one_norm": ("falcon", dict(new_decoder_architecture=True, num_kv_heads=2,
                                                        num_ln_in_parallel_attn=1)),
    "phi_default_rotary_gqa_tied": ("phi", dict(rope_parameters=None, num_key_value_heads=2, tie_word_embeddings=True)),
    "phi3_partial_rotary_gqa_tied": ("phi3", dict(num_key_value_heads=2, sliding_window=None, tie_word_embeddings=True,
                                                  rope_parameters={"rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                                                                   "rope_type": "default"})),
    "starcoder2_no_window_no_bias": ("starcoder2", dict(sliding_window=None, use_bias=False)),
    "olmo2_bias_gqa": ("olmo2", dict(attention_bias=True, num_key_value_heads=2)),
}

DEFAULTS = {
    "gpt2": "GPT2LMHeadModel", "gpt_neox": "GPTNeoXForCausalLM", "gptj": "GPTJForCausalLM", "opt": "OPTForCausalLM",
    "bloom": "BloomForCausalLM", "falcon": "FalconForCausalLM", "phi": "PhiForCausalLM", "phi3": "Phi3ForCausalLM",
    "starcoder2": "Starcoder2ForCausalLM", "olmo2": "Olmo2ForCausalLM",
}


def variant_config(family, overrides):
    """The family's small config.json with the overrides (None removes a key)."""
    with open(os.path.join(HERE, "hf_configs", f"{family}_small.json")) as f:
        data = json.load(f)
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def measure_variant(family, overrides):
    data = copy.deepcopy(variant_config(family, overrides))
    config = transformers.AutoConfig.for_model(data.pop("model_type"), **data)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = getattr(transformers, config.architectures[0])(config).float().eval()
    inputs = make_inputs("causal", config)
    result = counts(model)
    result["forward_flops"], result["forward_flops_by_op"] = forward_flops(model, inputs, "causal")
    _, detail = cache_bytes(model, inputs)
    result["kv_cache"] = {"state_bytes": detail["state_bytes"], "tensors": detail["tensors"]}
    return result


def measure_defaults(family, class_name):
    config = transformers.AutoConfig.for_model(family)
    with torch.device("meta"):
        model = getattr(transformers, class_name)(config)
    return dict(model_class=class_name, **counts(model))


def main():
    data = {
        "about": f"Measured by tests/reference/measure_hf_classic_variants.py with torch {torch.__version__} (CPU) and "
                 f"transformers {transformers.__version__} on {datetime.date.today().isoformat()}; see its docstring.",
        "variants": {},
        "defaults": {},
    }
    for name, (family, overrides) in VARIANTS.items():
        data["variants"][name] = dict(family=family, overrides=overrides, small=measure_variant(family, overrides))
        print(name, data["variants"][name]["small"], file=sys.stderr, flush=True)
    for family, class_name in DEFAULTS.items():
        data["defaults"][family] = measure_defaults(family, class_name)
        print(family, data["defaults"][family], file=sys.stderr, flush=True)
    write_json(OUT, data)


if __name__ == "__main__":
    main()
