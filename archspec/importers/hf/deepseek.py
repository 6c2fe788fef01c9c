"""DeepSeek families: deepseek_v2, deepseek_v3 (transformers 5.24.0 config defaults).

The Llama layout with multi-head latent attention (LatentAttention: keys and values through
kv_lora_rank, queries directly or through q_lora_rank) and, from layer first_k_dense_replace on,
a mixture of n_routed_experts experts beside one MLP of n_shared_experts experts' width.
"""

from __future__ import annotations

from typing import Any

from archspec.importers.draft import Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import FULL, DecoderArch, MLPSlot, build_decoder, is_null, with_defaults
from archspec.importers.hf.moe import dense_mlp, experts_block, sparse_slot
from archspec.importers.hf.parts import activation, gated_mlp


def latent_attention(draft: Draft, config: HFConfig, options: Options, arch: DecoderArch, eps: float) -> dict[str, Any]:
    """The LatentAttention entry: q_lora_rank null projects the queries directly; attention_bias puts
    biases on q_a_proj, kv_a_proj_with_mqa and o_proj (never on a direct q_proj)."""
    q_rank = 0 if is_null(config, "q_lora_rank") else config.int("q_lora_rank")
    bias = config.bool("attention_bias", False)
    if bias and not q_rank:
        raise config.error("with q_lora_rank null: HF's q_proj has no bias where LatentAttention would put one; "
                           "the converter builds attention_bias only with q_lora_rank", "attention_bias")
    draft.param("num_attention_heads", config.int("num_attention_heads"))
    draft.param("q_lora_rank", q_rank, "0: queries projected directly (null in the config)" if not q_rank else "")
    for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
        draft.param(key, config.int(key))
    attention = {
        "name": "self_attn", "type": "LatentAttention", "num_heads": "num_attention_heads", "q_lora_rank": "q_lora_rank",
        "kv_lora_rank": "kv_lora_rank", "qk_nope_head_dim": "qk_nope_head_dim", "qk_rope_head_dim": "qk_rope_head_dim",
        "v_head_dim": "v_head_dim",
    }
    if bias:
        attention["bias"] = True
    if options.attention == "eager":
        attention["kernel"] = "eager"
    return attention


def deepseek_slot(router: dict[str, Any], mlp_bias: bool):
    """The MLP slot builder: a dense MLP (intermediate_size) in the first first_k_dense_replace layers,
    then routed experts (moe_intermediate_size) beside the shared experts' MLP; `router` the MoE's
    routing fields."""

    def build(draft: Draft, config: HFConfig, arch: DecoderArch) -> MLPSlot:
        act = activation(config, "hidden_act", "silu")
        layers = config.layers("num_hidden_layers")
        first = config.int("first_k_dense_replace", minimum=0)
        sparse = [i >= first for i in range(layers)]
        dense = dense_mlp(draft, config, act, bias=mlp_bias) if first else None
        if first:
            draft.param("first_k_dense_replace", first, "dense layers before the MoE layers")
        if not any(sparse):
            return sparse_slot({}, dense, sparse)
        draft.param("n_routed_experts", config.int("n_routed_experts"))
        draft.param("num_experts_per_tok", config.int("num_experts_per_tok"))
        draft.param("moe_intermediate_size", config.int("moe_intermediate_size"), "one expert's hidden size")
        draft.param("n_shared_experts", config.int("n_shared_experts"), "one MLP of this many experts' width")
        shared = gated_mlp(draft, act, "hidden_size", "moe_intermediate_size * n_shared_experts", bias=mlp_bias,
                           block="SharedExperts")
        moe = {"type": "MoE", "num_experts": "n_routed_experts", "top_k": "num_experts_per_tok",
               "expert": experts_block(draft, act, "moe_intermediate_size"), "shared_expert": shared, **router}
        if "groups" in router:
            draft.param("n_group", config.int("n_group"), "experts in groups; a token's from its best topk_group")
            draft.param("topk_group", config.int("topk_group"))
        return sparse_slot(moe, dense, sparse, "first_k_dense_replace")

    return build


def _required(config: HFConfig, key: str, why: str) -> None:
    if is_null(config, key) or not config.has(key):
        raise config.error(f"is missing or null; {why}", key)


def _build(config: HFConfig, options: Options, description: str, router: dict[str, Any], mlp_bias: bool) -> Draft:
    config.refuse("moe_layer_freq", 1, "HF's DeepSeek layers ignore it (every layer from first_k_dense_replace on is "
                  "sparse) where the original model interleaves dense layers")
    notes = ["routed_scaling_factor scales each token's top-k weights (T * k multiplies the MoE layer leaves out); "
             "HF builds no multi-token-prediction layer (num_nextn_predict_layers)."]
    return build_decoder(config, options, DecoderArch(
        description, attention=latent_attention, mlp=deepseek_slot(router, mlp_bias), rotary_dim="qk_rope_head_dim",
        attention_layers=lambda _config, layers: ([FULL] * layers, 0), notes=notes,
    ))


@family("deepseek_v2")
def deepseek_v2(config: HFConfig, options: Options) -> Draft:
    """DeepseekV2Config: softmax router, greedy top-k (or group_limited_greedy: the best topk_group of
    n_group groups by their best expert), weights never renormalised; q_lora_rank 1536 by default."""
    config = with_defaults(config, vocab_size=102400, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                           num_attention_heads=32, max_position_embeddings=2048, first_k_dense_replace=0,
                           kv_lora_rank=512, q_lora_rank=1536, n_routed_experts=config.data.get("num_experts", 64),
                           n_shared_experts=2, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
                           moe_intermediate_size=1407)
    config.choice("scoring_func", ("softmax",), "softmax")
    config.refuse("norm_topk_prob", False, "HF's DeepseekV2 router never renormalises the top-k weights")
    method = config.choice("topk_method", ("greedy", "group_limited_greedy"), "greedy")
    router: dict[str, Any] = {"norm_topk": False}
    if method == "group_limited_greedy":
        for key in ("n_group", "topk_group"):
            _required(config, key, "group_limited_greedy routing needs it")
        router.update(groups="n_group", topk_groups="topk_group", group_score="max")
    return _build(config, options,
                  "DeepSeek-V2: multi-head latent attention, rotary positions, pre-RMSNorm, dense first layers, then "
                  "routed SwiGLU experts beside shared experts.", router, config.bool("mlp_bias", False))


@family("deepseek_v3")
def deepseek_v3(config: HFConfig, options: Options) -> Draft:
    """DeepseekV3Config: sigmoid router with e_score_correction_bias, group-limited top-k (n_group 8,
    topk_group 4, groups scored by their best two), weights renormalised (norm_topk_prob true)."""
    config = with_defaults(config, vocab_size=129280, hidden_size=7168, intermediate_size=18432, num_hidden_layers=61,
                           num_attention_heads=128, max_position_embeddings=4096, first_k_dense_replace=3,
                           kv_lora_rank=512, q_lora_rank=1536, n_routed_experts=config.data.get("num_local_experts", 256),
                           n_shared_experts=1, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
                           moe_intermediate_size=2048, num_experts_per_tok=8, n_group=8, topk_group=4)
    config.choice("scoring_func", ("sigmoid",), "sigmoid")
    config.choice("topk_method", ("noaux_tc",), "noaux_tc")
    for key in ("n_group", "topk_group"):
        _required(config, key, "HF's DeepseekV3 router always routes by groups")
    router = {"router": "sigmoid", "correction_bias": True, "norm_topk": config.bool("norm_topk_prob", True),
              "groups": "n_group", "topk_groups": "topk_group"}
    return _build(config, options,
                  "DeepSeek-V3: multi-head latent attention, rotary positions, pre-RMSNorm, dense first layers, then "
                  "routed SwiGLU experts (sigmoid, group-limited) beside a shared expert.", router, False)
