"""Measure reference figures for six HuggingFace decoder LLMs and print
tests/reference/llm_decoders_measured.json (needs torch and transformers; not run by the tests).

    python tests/reference/measure_llm_decoders.py > tests/reference/llm_decoders_measured.json

Models: Mistral-7B-v0.1, Mixtral-8x7B-v0.1, Qwen2-7B, Gemma-2-9B, DeepSeek-V2-Lite, DeepSeek-V3.
No weights or configs are downloaded: every config is built in code from the config class, with the
values of the model's published config.json written out in FULL below (the keys we set are recorded in
the JSON as "config_keys_set"; every other key is the config class's default).

For each model the script records:

1. "full" -- the full-size model built on torch.device("meta") (no memory, no FLOPs):
   - "params": sum of numel over model.parameters() (which yields a tied weight once);
   - "buffers": sum of numel over model.named_buffers() (persistent and non-persistent), grouped by name
     pattern (layer index replaced by "*");
   - "active_params": parameters one token touches = params minus, for each MoE layer,
     (num_routed_experts - top_k) * params of one routed expert;
   - "breakdown": parameters per module type (embedding, attention per layer, dense MLP, one routed
     expert, shared experts, router, norms, lm_head) and totals per type that add up to "params".
2. "small" -- a small real instance (float32, CPU, torch.manual_seed(0) before construction) with the
   same architecture: the full config with the keys in SMALL overridden, every *dropout* key set to 0,
   attn_implementation="eager" and experts_implementation="eager" (see EXPERTS below). Inputs are
   random token ids from a torch.Generator seeded with 0. It records
   a. params, buffers, active_params as above;
   b. "forward_flops": FLOPs counted by torch.utils.flop_counter.FlopCounterMode for one forward pass
      (eval, no_grad, use_cache=False, logits for every position, lm_head included) at (B, L) = (2, 32),
      with the per-module and per-operator breakdown of get_flop_counts(); and the totals (plus
      per-operator figures) at (1, 32) and (2, 24). FlopCounterMode counts matmul-like aten ops only
      (mm, addmm, bmm, baddbmm, sdpa, convolution): element-wise work (norms, softmax, rotary, SiLU,
      router top-k) is not in these figures;
   c. "kv_cache": after one forward on (2, 32) with use_cache=True (eval, no_grad): the cache class, and
      for every layer the layer-cache class and each tensor it holds (shape, dtype, bytes =
      numel * element_size), the total of those bytes ("tensor_bytes") and the bytes of the distinct
      storages behind them ("storage_bytes": a sliced view keeps its whole storage alive). For the
      sliding-window models also at L = 8, 16, 17 (window W = 16);
   d. "decode": after a prefill of P = 32 tokens (B = 2, use_cache=True), the FlopCounterMode FLOPs of
      the next forward of one token per sequence (input (2, 1), cache=the prefill's cache; per module
      at P = 32) and the cache after it; also P = 8 and P = 16 for the sliding-window models;
   e. "saved_for_backward": train mode, float32, forward to logits only (no loss), at (B, L) = (1, 32)
      and (2, 32): bytes of the distinct storages packed by torch.autograd.graph.saved_tensors_hooks,
      keyed by untyped_storage().data_ptr(), valued storage.nbytes(), parameter storages excluded. Each
      storage is attributed to the innermost module running when it was first packed (tracked with
      forward pre/post hooks on every module). Per-module bytes and every tensor packed, as
      [shape, dtype, storage bytes if this pack was the storage's first else 0], are listed for the non-repeated modules and for layer 0 (and, for DeepSeek, whose layer 0
      is dense, also for the first MoE layer); "per_layer_bytes" gives the total of every layer.
3. "notes" -- observations worth knowing when comparing with an analytical model.

EXPERTS: transformers 5.x wraps every MoE experts class with @use_experts_implementation
(transformers/integrations/moe.py). Its forward dispatches on config._experts_implementation through
ALL_EXPERTS_FUNCTIONS ("batched_mm", "grouped_mm", ...), falling back to the class's own forward (the
per-expert Python loop) for "eager". PreTrainedModel.__init__ resolves a missing value with
get_correct_experts_implementation(None), which picks "grouped_mm" when it can dispatch (and "eager"
otherwise). Passing experts_implementation="eager" to the config constructor pins the eager loop; the
JSON records the value in force and the one that would have been chosen by default.
"""
import datetime
import inspect
import json
import re
from collections import defaultdict

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    DeepseekV2Config, DeepseekV2ForCausalLM, DeepseekV3Config, DeepseekV3ForCausalLM, Gemma2Config, Gemma2ForCausalLM,
    MistralConfig, MistralForCausalLM, MixtralConfig, MixtralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
)

# --------------------------------------------------------------------------------------------------
# Configs. FULL: the published config.json values of each model, as the transformers config class
# names them (rope_theta / rope_scaling are written as 5.x's rope_parameters). Published keys that the
# HF config class does not have are listed in NOT_IN_HF_CLASS and not set.
# --------------------------------------------------------------------------------------------------
FULL = {
    "mistral_7b": (MistralConfig, MistralForCausalLM, dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, hidden_act="silu", max_position_embeddings=32768,
        rms_norm_eps=1e-5, sliding_window=4096, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )),
    "mixtral_8x7b": (MixtralConfig, MixtralForCausalLM, dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, hidden_act="silu", max_position_embeddings=32768,
        rms_norm_eps=1e-5, sliding_window=None, tie_word_embeddings=False, num_local_experts=8,
        num_experts_per_tok=2, router_aux_loss_coef=0.02, rope_parameters={"rope_type": "default", "rope_theta": 1e6},
    )),
    "qwen2_7b": (Qwen2Config, Qwen2ForCausalLM, dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, hidden_act="silu", max_position_embeddings=131072,
        rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=131072, max_window_layers=28,
        tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 1e6},
    )),
    "gemma2_9b": (Gemma2Config, Gemma2ForCausalLM, dict(
        vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
        num_attention_heads=16, num_key_value_heads=8, head_dim=256, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=8192, rms_norm_eps=1e-6, query_pre_attn_scalar=256, sliding_window=4096,
        attn_logit_softcapping=50.0, final_logit_softcapping=30.0, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )),
    "deepseek_v2_lite": (DeepseekV2Config, DeepseekV2ForCausalLM, dict(
        vocab_size=102400, hidden_size=2048, intermediate_size=10944, moe_intermediate_size=1408,
        num_hidden_layers=27, num_attention_heads=16, num_key_value_heads=16, n_shared_experts=2,
        n_routed_experts=64, num_experts_per_tok=6, first_k_dense_replace=1, routed_scaling_factor=1.0,
        kv_lora_rank=512, q_lora_rank=None, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        topk_method="greedy", n_group=1, topk_group=1, norm_topk_prob=False, hidden_act="silu",
        max_position_embeddings=163840, rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=False,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                         "original_max_position_embeddings": 4096, "beta_fast": 32.0, "beta_slow": 1.0,
                         "mscale": 0.707, "mscale_all_dim": 0.707},
    )),
    "deepseek_v3": (DeepseekV3Config, DeepseekV3ForCausalLM, dict(
        vocab_size=129280, hidden_size=7168, intermediate_size=18432, moe_intermediate_size=2048,
        num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128, n_shared_experts=1,
        n_routed_experts=256, num_experts_per_tok=8, first_k_dense_replace=3, routed_scaling_factor=2.5,
        kv_lora_rank=512, q_lora_rank=1536, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        n_group=8, topk_group=4, norm_topk_prob=True, hidden_act="silu", max_position_embeddings=163840,
        rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=False, num_nextn_predict_layers=1,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                         "original_max_position_embeddings": 4096, "beta_fast": 32.0, "beta_slow": 1.0,
                         "mscale": 1.0, "mscale_all_dim": 1.0},
    )),
}

NOT_IN_HF_CLASS = {
    "deepseek_v2_lite": "moe_layer_freq=1, scoring_func='softmax', aux_loss_alpha=0.001, seq_aux=true (the HF "
                        "router always uses softmax scoring; the others only matter for training losses)",
    "deepseek_v3": "topk_method='noaux_tc', scoring_func='sigmoid', moe_layer_freq=1, aux_loss_alpha, seq_aux (the HF "
                   "router hard-codes sigmoid scoring with e_score_correction_bias and group-limited top-k); "
                   "num_nextn_predict_layers=1 is set (alias of num_mtp_layers) but DeepseekV3ForCausalLM builds "
                   "no MTP module",
}

SMALL = {
    "mistral_7b": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, vocab_size=256, sliding_window=16, max_position_embeddings=256,
                       head_dim=16),
    "mixtral_8x7b": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=256, num_local_experts=4, num_experts_per_tok=2,
                         sliding_window=None, router_jitter_noise=0.0),
    "qwen2_7b": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=256, use_sliding_window=False),
    "gemma2_9b": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=32, vocab_size=256, sliding_window=16,
                      query_pre_attn_scalar=32, attn_logit_softcapping=50.0, final_logit_softcapping=30.0),
    "deepseek_v2_lite": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, first_k_dense_replace=1,
                             num_attention_heads=4, num_key_value_heads=4, kv_lora_rank=32, q_lora_rank=None,
                             qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, moe_intermediate_size=32,
                             n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=2, vocab_size=256,
                             topk_method="greedy", n_group=1, topk_group=1),
    "deepseek_v3": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, first_k_dense_replace=1,
                        num_attention_heads=4, num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=32,
                        qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, moe_intermediate_size=32,
                        n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
                        vocab_size=256),
}
# num_key_value_heads for the DeepSeek small configs follows the full model (= num_attention_heads).

SLIDING = {"mistral_7b", "gemma2_9b"}  # models whose small instance has sliding-window layers (W = 16)


def make_config(name, small):
    """The config class built from FULL (and SMALL when small), dropouts 0, eager attention and experts."""
    config_class, _, keys = FULL[name]
    keys = dict(keys)
    if small:
        keys.update(SMALL[name])
        keys.update({k: 0.0 for k in config_class().to_dict() if "dropout" in k})
    return config_class(**keys, attn_implementation="eager", experts_implementation="eager"), keys


def build(name, small):
    config, keys = make_config(name, small)
    model_class = FULL[name][1]
    if small:
        torch.manual_seed(0)
        model = model_class(config).float().eval()
    else:
        with torch.device("meta"):
            model = model_class(config)
    return model, config, keys


# --------------------------------------------------------------------------------------------------
# 1. Parameters, buffers, active parameters, breakdown by module type
# --------------------------------------------------------------------------------------------------
def category(name):
    """Module type of a parameter, from its qualified name."""
    if name.startswith("lm_head."):
        return "lm_head"
    if ".embed_tokens." in name:
        return "embedding"
    if ".self_attn." in name:
        return "attention"
    if ".mlp.experts." in name:
        return "routed_experts"
    if ".mlp.shared_experts." in name:
        return "shared_experts"
    if ".mlp.gate." in name:
        return "router"
    if ".mlp." in name:
        return "dense_mlp"
    if "norm" in name.rsplit(".", 2)[-2]:
        return "norms"
    raise ValueError(name)


def layer_of(name):
    match = re.search(r"\.layers\.(\d+)\.", name)
    return int(match.group(1)) if match else None


def experts_modules(model):
    """(layer index, experts module) of every MoE layer."""
    return [(layer_of(n + "."), m) for n, m in model.named_modules() if n.endswith(".mlp.experts")]


def one_expert_params(experts):
    return sum(p.numel() for p in experts.parameters()) // experts.num_experts


def counts(model, config):
    params = sum(p.numel() for p in model.parameters())
    buffers = defaultdict(lambda: {"numel": 0, "count": 0})
    for module_name, module in model.named_modules():
        for buffer_name, buffer in module.named_buffers(recurse=False):
            pattern = re.sub(r"\.\d+\.", ".*.", f"{module_name}.{buffer_name}")
            entry = buffers[pattern]
            entry["numel"] += buffer.numel()
            entry["count"] += 1
            entry.update(dtype=str(buffer.dtype).replace("torch.", ""), shape=list(buffer.shape),
                         persistent=buffer_name not in module._non_persistent_buffers_set)
    top_k = getattr(config, "num_experts_per_tok", None)
    inactive = sum((e.num_experts - top_k) * one_expert_params(e) for _, e in experts_modules(model))

    # Breakdown: totals per category over the whole model, and per-layer figures of one layer of each kind.
    totals, per_layer = defaultdict(int), defaultdict(lambda: defaultdict(int))
    detail = defaultdict(lambda: defaultdict(dict))
    for name, p in model.named_parameters():
        cat, layer = category(name), layer_of(name)
        totals[cat] += p.numel()
        if layer is not None:
            per_layer[layer][cat] += p.numel()
            detail[layer][cat][name.split(f".layers.{layer}.", 1)[1]] = list(p.shape)
    assert sum(totals.values()) == params
    moe_layers = [i for i, _ in experts_modules(model)]
    dense_layers = [i for i in per_layer if i not in moe_layers]
    kinds = {}
    for kind, layers in (("dense_layer", dense_layers), ("moe_layer", moe_layers)):
        if layers:
            first = layers[0]
            assert all(dict(per_layer[i]) == dict(per_layer[first]) for i in layers)  # layers of a kind are alike
            kinds[kind] = {"layers": layers if len(layers) < 8 else f"{layers[0]}..{layers[-1]} ({len(layers)})",
                           "params_per_layer": dict(per_layer[first]), "param_shapes": detail[first]}
    breakdown = {
        "embedding": totals["embedding"],
        "lm_head": totals["lm_head"],
        "lm_head_tied_to_embedding": model.lm_head.weight is model.get_input_embeddings().weight,
        "final_norm": sum(p.numel() for p in model.model.norm.parameters()),
        **kinds,
        "totals_by_category": dict(totals),
    }
    if moe_layers:
        breakdown["routed_expert_one"] = one_expert_params(experts_modules(model)[0][1])
        breakdown["routed_experts_per_moe_layer"] = experts_modules(model)[0][1].num_experts
        breakdown["top_k"] = top_k
    return {"params": params, "active_params": params - inactive,
            "buffers": sum(b["numel"] for b in buffers.values()), "buffers_by_pattern": dict(buffers),
            "breakdown": breakdown}


# --------------------------------------------------------------------------------------------------
# 2b/2d. FLOPs
# --------------------------------------------------------------------------------------------------
def ids(batch, length, vocab, seed=0):
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def flops(model, per_module=True, **inputs):
    """FlopCounterMode figures of one no-grad forward; returns (total, breakdown, output)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(**inputs)
    counts = counter.get_flop_counts()
    by_module = {mod: {str(op): n for op, n in counts[mod].items()} for mod in sorted(counts, key=lambda m: (m != "Global", m))}
    figures = {"total": counter.get_total_flops(), "by_operator": by_module.get("Global", {})}
    if per_module:
        figures["by_module"] = by_module
    return figures, out


# --------------------------------------------------------------------------------------------------
# 2c. KV cache
# --------------------------------------------------------------------------------------------------
def describe_cache(cache):
    layers, tensor_bytes, storages = [], 0, {}
    for index, layer in enumerate(cache.layers):
        entry = {"class": type(layer).__name__, "tensors": {}}
        for attr in ("sliding_window", "cumulative_length"):
            if hasattr(layer, attr):
                entry[attr] = getattr(layer, attr)
        for attr, value in vars(layer).items():
            if isinstance(value, torch.Tensor):
                nbytes = value.numel() * value.element_size()
                storage = value.untyped_storage()
                entry["tensors"][attr] = {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                                          "bytes": nbytes, "storage_bytes": storage.nbytes()}
                tensor_bytes += nbytes
                storages[storage.data_ptr()] = storage.nbytes()
        layers.append(entry)
    return {"class": type(cache).__name__, "layers": layers, "tensor_bytes": tensor_bytes,
            "storage_bytes": sum(storages.values()),
            "key_value_bytes": sum(t["bytes"] for l in layers for k, t in l["tensors"].items() if k in ("keys", "values"))}


def kv_cache(model, vocab, length):
    with torch.no_grad():
        out = model(input_ids=ids(2, length, vocab), use_cache=True)
    return describe_cache(out.cache)


def decode(model, vocab, prefill, per_module=False):
    with torch.no_grad():
        cache = model(input_ids=ids(2, prefill, vocab), use_cache=True).cache
    before = describe_cache(cache)
    figures, out = flops(model, per_module, input_ids=ids(2, 1, vocab, seed=1), cache=cache, use_cache=True)
    after = describe_cache(out.cache)
    return {"prefill": prefill, "flops": figures, "cache_bytes_before": before["tensor_bytes"],
            "cache_storage_bytes_before": before["storage_bytes"], "cache_after": after}


# --------------------------------------------------------------------------------------------------
# 2e. Saved for backward
# --------------------------------------------------------------------------------------------------
def saved_for_backward(model, vocab, batch, detail_layers):
    """Distinct storages packed by saved_tensors_hooks in one train-mode forward, parameters excluded,
    attributed to the innermost running module."""
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    names = {module: name or "<root>" for name, module in model.named_modules()}
    stack, handles = [], []

    def enter(module, args):
        stack.append(names[module])  # returns None: the inputs are left as they are

    def leave(module, args, output):
        stack.pop()  # returns None: the output is left as it is

    for module in names:
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    owner, nbytes, packed = {}, {}, defaultdict(list)

    def pack(tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in params:
            module = stack[-1] if stack else "<outside modules>"
            new = key not in owner
            if new:
                owner[key], nbytes[key] = module, storage.nbytes()
            packed[module].append([list(tensor.shape), str(tensor.dtype).replace("torch.", ""),
                                   storage.nbytes() if new else 0])
        return tensor

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            out = model(input_ids=ids(batch, 32, vocab), use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
        model.eval()
    del out
    by_module = defaultdict(int)
    for key, module in owner.items():
        by_module[module] += nbytes[key]
    per_layer = defaultdict(int)
    for module, n in by_module.items():
        layer = layer_of(module + ".")
        per_layer["non_layer" if layer is None else f"layer_{layer}"] += n

    def shown(module):
        layer = layer_of(module + ".")
        return layer is None or layer in detail_layers

    modules = sorted(set(by_module) | set(packed), key=lambda m: list(names.values()).index(m) if m in names.values() else -1)
    return {
        "bytes": sum(nbytes.values()),
        "per_layer_bytes": dict(per_layer),
        "by_module": {m: {"bytes": by_module.get(m, 0),
                          "saved_shape_dtype_newbytes": packed.get(m, [])} for m in modules if shown(m)},
    }


# --------------------------------------------------------------------------------------------------
# Source evidence for the sliding-window cache size
# --------------------------------------------------------------------------------------------------
def quote_sliding_source():
    from transformers import cache_utils, masking_utils

    quotes = []
    for obj, needles in ((cache_utils.DynamicSlidingWindowLayer.update, ("sliding_window - 1", "-self.sliding_window + 1")),
                         (cache_utils.DynamicSlidingWindowLayer.get_mask_sizes, ("sliding_window",)),
                         (masking_utils.sliding_window_overlay, ("kv_idx >",))):
        lines, start = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj).split("site-packages/")[-1]
        for offset, line in enumerate(lines):
            if any(n in line for n in needles):
                quotes.append(f"{path}:{start + offset}: {line.strip()}")
    return quotes


# --------------------------------------------------------------------------------------------------
NOTES = {
    "all": [
        "FlopCounterMode counts only matmul-like aten ops (2 FLOPs per multiply-add; addmm with a bias counts "
        "as the mm alone): element-wise work (RMSNorm, softmax, rotary, activations, softcapping, the router's "
        "softmax/sigmoid/top-k, the experts' weighting and index_add_) is absent.",
        "The eager attention computes the full L x L scores in a prefill even with a sliding window (the window "
        "is only a mask), so prefill FLOPs do not depend on the window; a decode step's scores cover only the "
        "keys the cache returns.",
        "In transformers 5.24 the cache argument is `cache=` (past_key_values is a deprecated alias until 5.40) "
        "and the output field is `.cache`; the model builds DynamicCache(config=...) with one layer cache per "
        "decoder layer, DynamicSlidingWindowLayer for layers with a sliding window, DynamicLayer otherwise.",
        "Saved bytes at B=2 are less than twice B=1: rotary cos and sin are built from position_ids of batch 1, "
        "shape (1, 1, L, head_dim), and saved by the rotary multiplications (packed first in layer 0, shared by "
        "all layers): 2 * L * head_dim * 4 bytes that do not grow with B.",
        "The eager attention saves the softmax output (B*heads, L, L) and the transposed key copy; the additive "
        "causal mask itself is not saved.",
    ],
    "mistral_7b": [
        "sliding_window is set on every layer (MistralConfig has no layer_types): every layer is a "
        "DynamicSlidingWindowLayer.",
        "Sliding cache: after a prefill of L >= W tokens each layer keeps the last W-1 = 15 tokens as a view "
        "(full[:, :, -W+1:, :]) of the concatenated L-token tensor, so tensor bytes are for W-1 tokens while the "
        "storage still holds all L tokens (storage_bytes) until the next update; after a decode step the "
        "storage is the (W-1)+1 = W-token concatenation sliced to W-1. The step attends to W keys "
        "(W-1 cached + itself); the mask keeps kv_idx > q_idx - W, i.e. W keys including the query.",
    ],
    "mixtral_8x7b": [
        "Router (MixtralTopKRouter): F.linear -> softmax over all experts in float32 -> torch.topk(k) -> "
        "renormalise the k weights to sum 1. Eager experts loop: one_hot mask, for each expert that got tokens "
        "torch.where -> index tokens -> linear(gate_up_proj[e]) (gate and up fused in one 3D parameter, "
        "chunked) -> SiLU(gate)*up -> linear(down_proj[e]) -> scale by the routing weight -> index_add_. "
        "Experts with no token are skipped, so the routed FLOPs are exactly 2 * tokens * top_k * params of one "
        "expert whatever the routing.",
        "Expert weights are 3D nn.Parameters (num_experts, 2*I, H) and (num_experts, H, I), not an nn.Linear "
        "per expert as in the checkpoints (transformers' conversion_mapping renames them at load).",
        "Without experts_implementation='eager' this machine would run grouped_mm (see "
        "experts_implementation_default_here).",
    ],
    "qwen2_7b": ["q/k/v projections have biases (o_proj has none); use_sliding_window=False makes "
                 "Qwen2Config set sliding_window=None, so every layer is full attention (DynamicLayer)."],
    "gemma2_9b": [
        "layer_types alternate starting with sliding: layer 0 sliding_attention (DynamicSlidingWindowLayer, "
        "W-1 tokens kept as for Mistral), layer 1 full_attention (DynamicLayer).",
        "embed_scale (sqrt(hidden)) is a non-persistent scalar buffer; the lm_head is tied to the embedding "
        "(counted once). Each layer has four RMSNorms (input, post_attention, pre_feedforward, "
        "post_feedforward); Gemma's RMSNorm multiplies by (1 + weight), a new hidden-size tensor that is saved "
        "for backward and does not grow with B (hidden*4 bytes per norm, 9 norms here), as does the 0-dim "
        "embed_scale: with cos/sin these make B=2 saved bytes 2*B1 - 10,500.",
        "Scores are scaled by query_pre_attn_scalar**-0.5 (not head_dim**-0.5) and soft-capped (x/50 -> tanh -> "
        "*50) before the mask, the final logits likewise with 30 (tanh saves its output).",
    ],
    "deepseek_v2_lite": [
        "Router (DeepseekV2TopkRouter): F.linear in float32 -> softmax -> torch.topk(k, sorted=False) "
        "(topk_method greedy; group_limited_greedy would mask groups first); no renormalisation (the HF router "
        "does not read norm_topk_prob), weights times routed_scaling_factor.",
        "MLA cache: HF caches the compressed latent, not full K/V: 'keys' = kv_a_layernorm(latent), (B, 1, L, "
        "kv_lora_rank), 'values' = the rotated shared rope key, (B, 1, L, qk_rope_head_dim). kv_b_proj "
        "re-expands the whole cached latent to per-head K and V at every step, so a decode step's FLOPs include "
        "kv_b_proj over all P+1 positions (see decode by_module).",
        "Rotary is complex: freqs_cis (1, 1, L, rope_dim/2) complex64 saved by the complex multiplications.",
        "Saved bytes at B=1 are well over half of B=2: at B=1 the reshape of the value in the attention matmul "
        "is a view, so the saved tensor pins the whole kv_b_proj output (k_nope and v interleaved); at B=2 the "
        "reshape copies v alone. Both are 16,384 bytes per layer here (B=1 storage twice the proportional share).",
        "DeepseekV2Config.__post_init__ sets head_dim = qk_rope_head_dim.",
    ],
    "deepseek_v3": [
        "Router (DeepseekV3TopkRouter): F.linear in float32 -> sigmoid -> + e_score_correction_bias -> group "
        "score = sum of top-2 per group -> topk(topk_group) groups -> mask the others with -inf -> topk(k) "
        "experts; weights are the un-biased sigmoid scores gathered, divided by their sum (norm_topk_prob) and "
        "times routed_scaling_factor.",
        "e_score_correction_bias is a persistent buffer (nn.Buffer) in transformers 5.24, whereas DeepSeek's own "
        "modeling_deepseek.py declares it an nn.Parameter: here it is in the buffer count (256 per MoE layer, "
        "58 layers = 14,848), not in params.",
        "MLA cache and the B=1 view effect as for DeepSeek-V2 (rotary here is real cos/sin with rope_interleave).",
        "No MTP module is built (num_nextn_predict_layers is only an alias of num_mtp_layers), so params exclude "
        "the MTP layer that the published checkpoint carries.",
    ],
}


def measure(name):
    record = {}
    full_model, full_config, full_keys = build(name, small=False)
    record["full"] = {"config_keys_set": full_keys, "published_keys_not_set": NOT_IN_HF_CLASS.get(name),
                      **counts(full_model, full_config)}
    del full_model

    model, config, small_keys = build(name, small=True)
    vocab = config.vocab_size
    small = {"config_keys_set": small_keys,
             "attn_implementation": config._attn_implementation,
             "experts_implementation": config._experts_implementation,
             "experts_implementation_default_here": model.get_correct_experts_implementation(None),
             "layer_types": getattr(config, "layer_types", None),
             "head_dim": getattr(config, "head_dim", None),
             **counts(model, config)}
    at_2_32, _ = flops(model, input_ids=ids(2, 32, vocab), use_cache=False)
    small["forward_flops"] = {"B2_L32": at_2_32}
    for batch, length in ((1, 32), (2, 24)):
        small["forward_flops"][f"B{batch}_L{length}"] = flops(model, per_module=False,
                                                              input_ids=ids(batch, length, vocab), use_cache=False)[0]
    small["kv_cache"] = {"B2_L32": kv_cache(model, vocab, 32)}
    if hasattr(config, "kv_lora_rank"):  # multi-head latent attention: what is cached against what attention uses
        small["kv_cache"]["mla_numel_per_token_per_layer"] = {
            "cached (keys: kv_a_layernorm latent, kv_lora_rank; values: rotated rope key, qk_rope_head_dim)":
                config.kv_lora_rank + config.qk_rope_head_dim,
            "full K and V after kv_b_proj (heads * (qk_nope + qk_rope + v_head)), not cached":
                config.num_attention_heads * (config.qk_nope_head_dim + config.qk_rope_head_dim + config.v_head_dim),
        }
    if name in SLIDING:
        for length in (8, 16, 17):
            small["kv_cache"][f"B2_L{length}"] = kv_cache(model, vocab, length)
    small["decode"] = {"P32": decode(model, vocab, 32, per_module=True)}
    if name in SLIDING:
        for prefill in (8, 16):
            small["decode"][f"P{prefill}"] = decode(model, vocab, prefill)
    detail_layers = {0, getattr(config, "first_k_dense_replace", 0) or 0}
    small["saved_for_backward"] = {f"B{b}_L32": saved_for_backward(model, vocab, b, detail_layers) for b in (1, 2)}
    record["small"] = small
    record["notes"] = NOTES["all"] + NOTES.get(name, [])
    return record


def main():
    about = (f"Measured by tests/reference/measure_llm_decoders.py with PyTorch {torch.__version__} (CPU) and "
             f"transformers {transformers.__version__} on {datetime.date.today().isoformat()}: full-size models "
             "on the meta device (parameter, buffer and active-parameter counts); small float32 instances "
             "(seed 0, eager attention, eager experts loop) for FlopCounterMode FLOPs, DynamicCache contents "
             "and saved_tensors_hooks bytes.")
    models = {name: measure(name) for name in FULL}
    print(dumps({"source": about, "sliding_window_cache_source": quote_sliding_source(), "models": models}))


def dumps(value, indent=0, width=120):
    """JSON with one space of indent per level, but any container that fits in `width` on one line."""
    flat = json.dumps(value)
    if not isinstance(value, (dict, list)) or not value or indent + len(flat) <= width:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + dumps(v, indent + 1, width) for v in value) + "\n" + " " * indent + "]"


if __name__ == "__main__":
    main()
