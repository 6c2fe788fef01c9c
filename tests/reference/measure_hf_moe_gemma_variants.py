"""Reference figures for config variants of the Gemma, MoE and Mamba families the importer builds (gemma, gemma2,
gemma3_text, mixtral, qwen2_moe, qwen3_moe, deepseek_v2, deepseek_v3, mamba) beyond the published configs of
hf_families_measured.json.

Standalone (needs torch and transformers; not run by the tests):

    python tests/reference/measure_hf_moe_gemma_variants.py

Writes tests/reference/hf_moe_gemma_variants_measured.json:
  - "variants": each a family's hf_configs/<family>_small.json with some keys overridden ("overrides"; a key mapped
    to null is removed, and layer_types is removed unless overridden, so that the class derives it again for the
    new layer count); measured as measure_hf_families.py measures a small instance: params and buffers,
    FlopCounterMode's forward FLOPs (use_cache=False) and the cache's state bytes (use_cache=True), float32 CPU,
    seed 0, eval, attn_implementation='eager' (and experts_implementation='eager' for the MoE families), token ids
    (B, L) = (2, 16). "set_null" lists keys set to null rather than removed.
  - "defaults": params and buffers of each family's config class with no key set (DeepSeek-V2: num_experts_per_tok
    6, which its class leaves None), built with AutoModelForCausalLM on torch.device('meta').
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
OUT = os.path.join(HERE, "hf_moe_gemma_variants_measured.json")
MOE = {"mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3"}

# name: (family, overrides (None removes the key), keys set to null)
VARIANTS = {
    "gemma_legacy_gelu_bias_mqa_untied": ("gemma", dict(hidden_act="gelu", attention_bias=True, num_key_value_heads=1,
                                                        tie_word_embeddings=False), ()),
    "gemma2_no_softcapping_5_layers": ("gemma2", dict(num_hidden_layers=5),
                                       ("attn_logit_softcapping", "final_logit_softcapping")),
    "gemma2_layer_types": ("gemma2", dict(num_hidden_layers=4, layer_types=["full_attention", "sliding_attention",
                                                                            "sliding_attention", "full_attention"]), ()),
    "gemma3_pattern_3_of_8_softcapped": ("gemma3_text", dict(num_hidden_layers=8, sliding_window_pattern=3,
                                                             _sliding_window_pattern=None, attn_logit_softcapping=20.0,
                                                             final_logit_softcapping=15.0), ()),
    "mixtral_sliding_top3_head_dim_8": ("mixtral", dict(sliding_window=8, num_experts_per_tok=3, head_dim=8), ()),
    "qwen2_moe_mlp_only_layers": ("qwen2_moe", dict(num_hidden_layers=6, mlp_only_layers=[0, 4]), ()),
    "qwen2_moe_sparse_step_2": ("qwen2_moe", dict(num_hidden_layers=4, decoder_sparse_step=2), ()),
    "qwen2_moe_sliding_below_3": ("qwen2_moe", dict(num_hidden_layers=4, use_sliding_window=True, sliding_window=8,
                                                    max_window_layers=3), ()),
    "qwen2_moe_norm_topk_gqa_no_bias": ("qwen2_moe", dict(norm_topk_prob=True, num_key_value_heads=2, qkv_bias=False), ()),
    "qwen3_moe_sliding_dense_layer_1": ("qwen3_moe", dict(use_sliding_window=True, sliding_window=8, mlp_only_layers=[1]),
                                        ()),
    "qwen3_moe_bias_sparse_step_2": ("qwen3_moe", dict(attention_bias=True, decoder_sparse_step=2, num_hidden_layers=4),
                                     ()),
    "deepseek_v2_group_limited_q_lora_biases": ("deepseek_v2", dict(topk_method="group_limited_greedy", n_group=2,
                                                                    topk_group=1, q_lora_rank=24, attention_bias=True,
                                                                    mlp_bias=True), ()),
    "deepseek_v2_no_dense_layer": ("deepseek_v2", dict(first_k_dense_replace=0), ()),
    "deepseek_v3_all_dense": ("deepseek_v3", dict(first_k_dense_replace=3, num_hidden_layers=3), ()),
    "deepseek_v3_direct_queries_2_dense": ("deepseek_v3", dict(norm_topk_prob=False, n_shared_experts=2,
                                                               num_hidden_layers=4, first_k_dense_replace=2),
                                           ("q_lora_rank",)),
    "mamba_biases_rank_6_untied": ("mamba", dict(use_bias=True, use_conv_bias=False, time_step_rank=6,
                                                 tie_word_embeddings=False), ()),
    "mamba_stored_width_wins": ("mamba", dict(expand=3), ()),
    "mamba_expand_3": ("mamba", dict(expand=3, intermediate_size=None, time_step_rank="auto"), ()),
}


def variant_config(family, overrides, nulls):
    """The family's small config.json with the overrides (None removes a key) and the keys set to null."""
    with open(os.path.join(HERE, "hf_configs", f"{family}_small.json")) as f:
        data = json.load(f)
    if "layer_types" not in overrides:
        data.pop("layer_types", None)
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return {**data, **dict.fromkeys(nulls)}


def measure_variant(family, overrides, nulls):
    data = copy.deepcopy(variant_config(family, overrides, nulls))
    extra = {"attn_implementation": "eager", **({"experts_implementation": "eager"} if family in MOE else {})}
    config = transformers.AutoConfig.for_model(data.pop("model_type"), **data, **extra)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).float().eval()
    kind = "mamba" if family == "mamba" else "causal"
    inputs = make_inputs(kind, config)
    result = counts(model)
    result["forward_flops"], result["forward_flops_by_op"] = forward_flops(model, inputs, kind)
    _, detail = cache_bytes(model, inputs)
    result["kv_cache"] = {"state_bytes": detail["state_bytes"], "tensors": detail["tensors"]}
    return result


def measure_defaults(family):
    keys = {"num_experts_per_tok": 6} if family == "deepseek_v2" else {}
    config = transformers.AutoConfig.for_model(family, **keys)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    return dict(model_class=type(model).__name__, keys=keys, **counts(model))


def main():
    data = {
        "about": f"Measured by tests/reference/measure_hf_moe_gemma_variants.py with torch {torch.__version__} (CPU) "
                 f"and transformers {transformers.__version__} on {datetime.date.today().isoformat()}; see its docstring.",
        "variants": {},
        "defaults": {},
    }
    for name, (family, overrides, nulls) in VARIANTS.items():
        small = measure_variant(family, overrides, nulls)
        data["variants"][name] = dict(family=family, overrides=overrides, set_null=list(nulls), small=small)
        print(name, small["params"], small["forward_flops"], small["kv_cache"]["state_bytes"], file=sys.stderr, flush=True)
    for family in ("gemma", "gemma2", "gemma3_text", "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                   "mamba"):
        data["defaults"][family] = measure_defaults(family)
        print(family, data["defaults"][family], file=sys.stderr, flush=True)
    write_json(OUT, data)


if __name__ == "__main__":
    main()
