"""Mixture-of-experts families on the Llama layout: mixtral, qwen2_moe, qwen3_moe (transformers
5.24.0 config defaults); the expert blocks DeepSeek shares.

HF keeps each layer's routed experts as two 3-D weights (experts.gate_up_proj, experts.down_proj)
behind a bias-free router (gate); the spec's MoE layer applies one expert block to the routed
tokens and counts its weights once per expert.
"""

from __future__ import annotations

from typing import Any

from archspec.importers.draft import Block, Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import (
    FULL,
    SLIDING,
    DecoderArch,
    MLPSlot,
    build_decoder,
    full_attention_only,
    is_null,
    layer_types,
    sliding_from_config,
    with_defaults,
)
from archspec.importers.hf.parts import activation, gated_mlp


def experts_block(draft: Draft, act: dict[str, Any], width: str, bias: bool = False) -> str:
    """One routed expert as HF's experts compute it: gate_up_proj, chunked into gate and up, then
    down_proj(act(gate) * up); returns the block's name."""
    draft.blocks["Experts"] = Block(
        comment=f"one expert: down_proj({act['type']}(gate) * up), gate and up from gate_up_proj",
        layers=[
            {"name": "gate_up_proj", "type": "Linear", "out_features": f"2 * {width}", "bias": bias},
            {"name": "chunk", "type": "Chunk", "chunks": 2, "dim": -1},
            {**act, "from": "chunk.0"},
            {"name": "gated", "type": "Mul", "from": [act["name"], "chunk.1"]},
            {"name": "down_proj", "type": "Linear", "out_features": "hidden_size", "bias": bias},
        ],
    )
    return "Experts"


def sparse_slot(moe: dict[str, Any], dense: dict[str, Any] | None, sparse: list[bool],
                dense_prefix: str | None = None) -> MLPSlot:
    """The MLP slot of layers that are sparse (`moe`) or dense (`dense`) as `sparse` says; when both
    occur, each runs in the layers its `moe` argument picks (repeat 0 passes the input through)."""
    if all(sparse):
        return MLPSlot([{"name": "mlp", **moe}])
    if not any(sparse):
        return MLPSlot([{"name": "mlp", **dense}])
    return MLPSlot([{"name": "mlp", **dense, "repeat": "1 - moe"}, {"name": "moe_mlp", **moe, "repeat": "moe"}],
                   sparse, dense_prefix)


def dense_mlp(draft: Draft, config: HFConfig, act: dict[str, Any], bias: bool = False) -> dict[str, Any]:
    """The dense MLP of intermediate_size some layers keep."""
    draft.param("intermediate_size", config.int("intermediate_size"), "the dense layers' MLP")
    return {"type": gated_mlp(draft, act, "hidden_size", "intermediate_size", bias=bias)}


# ---- Mixtral

def mixtral_slot(draft: Draft, config: HFConfig, arch: DecoderArch) -> MLPSlot:
    """Every layer's MLP: num_local_experts experts of intermediate_size, top num_experts_per_tok,
    weights renormalised (MixtralTopKRouter)."""
    act = activation(config, "hidden_act", "silu")
    draft.param("intermediate_size", config.int("intermediate_size"), "one expert's hidden size")
    draft.param("num_local_experts", config.int("num_local_experts"))
    draft.param("num_experts_per_tok", config.int("num_experts_per_tok"))
    moe = {"type": "MoE", "num_experts": "num_local_experts", "top_k": "num_experts_per_tok",
           "expert": experts_block(draft, act, "intermediate_size")}
    return sparse_slot(moe, None, [True])


@family("mixtral")
def mixtral(config: HFConfig, options: Options) -> Draft:
    """MixtralConfig: 8 experts, top 2; no sliding window unless sliding_window is set; num_experts is
    an alias of num_local_experts."""
    defaults = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
                "rms_norm_eps": 1e-5, "rope_theta": 1e6, "num_experts_per_tok": 2, "num_local_experts": 8}
    if config.has("num_experts") and not config.has("num_local_experts"):
        defaults["num_local_experts"] = config.data["num_experts"]
    config = with_defaults(config, **defaults)
    return build_decoder(config, options, DecoderArch(
        "Mixtral: grouped-query attention, rotary positions, pre-RMSNorm, a sparse mixture of SwiGLU experts.",
        eps_default=1e-5, mlp=mixtral_slot,
    ))


# ---- Qwen2-MoE, Qwen3-MoE

def qwen_sparse_layers(config: HFConfig, experts: int) -> list[bool]:
    """Which layers are sparse: those not in mlp_only_layers whose number (from 1) decoder_sparse_step divides."""
    layers = config.layers("num_hidden_layers")
    step = config.int("decoder_sparse_step", 1)
    dense = config.raw("mlp_only_layers", [])
    if not isinstance(dense, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in dense):
        raise config.error("expected a list of layer numbers", "mlp_only_layers")
    return [experts > 0 and i not in dense and (i + 1) % step == 0 for i in range(layers)]


def qwen_moe_slot(shared: bool):
    """The Qwen MoE MLP slot builder: num_experts experts of moe_intermediate_size (softmax router,
    renormalised with norm_topk_prob), with Qwen2-MoE's sigmoid-gated shared expert when `shared`."""

    def build(draft: Draft, config: HFConfig, arch: DecoderArch) -> MLPSlot:
        act = activation(config, "hidden_act", "silu")
        experts = config.int("num_experts", minimum=0)
        sparse = qwen_sparse_layers(config, experts)
        dense = dense_mlp(draft, config, act) if not all(sparse) else None
        if not any(sparse):
            return sparse_slot({}, dense, sparse)
        draft.param("num_experts", experts)
        draft.param("num_experts_per_tok", config.int("num_experts_per_tok"))
        draft.param("moe_intermediate_size", config.int("moe_intermediate_size"), "one expert's hidden size")
        moe = {"type": "MoE", "num_experts": "num_experts", "top_k": "num_experts_per_tok",
               "expert": experts_block(draft, act, "moe_intermediate_size")}
        if shared:
            draft.param("shared_expert_intermediate_size", config.int("shared_expert_intermediate_size"))
            moe["shared_expert"] = gated_shared_expert(draft, act, "shared_expert_intermediate_size")
        moe["norm_topk"] = config.bool("norm_topk_prob", False)
        return sparse_slot(moe, dense, sparse)

    return build


def gated_shared_expert(draft: Draft, act: dict[str, Any], width: str) -> str:
    """Qwen2-MoE's shared expert: a gated MLP scaled by sigmoid(shared_expert_gate(x)), a Linear to one value."""
    block = gated_mlp(draft, act, "hidden_size", width, block="SharedExpert")
    draft.blocks[block].layers += [
        {"name": "shared_expert_gate", "type": "Linear", "out_features": 1, "bias": False, "from": "input"},
        {"name": "gate_sigmoid", "type": "Sigmoid"},
        {"name": "gated_output", "type": "Mul", "from": ["gate_sigmoid", "down_proj"]},
    ]
    draft.blocks[block].comment = f"sigmoid(shared_expert_gate(x)) * {draft.blocks[block].comment}"
    return block


def qwen2_moe_layers(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Qwen2-MoE: with use_sliding_window, layer_types or by default the even layers below
    max_window_layers sliding; without it, no window."""
    if not config.bool("use_sliding_window", False):
        full_attention_only(config)
        return [FULL] * layers, 0
    window = config.int("sliding_window", 4096)
    if not config.has("layer_types"):
        below = config.int("max_window_layers", 28, minimum=0)
        types = [SLIDING if (i + 1) % 2 and i < below else FULL for i in range(layers)]
        config = HFConfig({**config.data, "layer_types": types}, config.file)
    return layer_types(config, layers, window), window


def qwen3_moe_layers(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Qwen3-MoE: every layer sliding when use_sliding_window and sliding_window are set (no layer_types)."""
    if not config.bool("use_sliding_window", False) or is_null(config, "sliding_window"):
        return [FULL] * layers, 0
    data = {key: value for key, value in config.data.items() if key != "layer_types"}
    return sliding_from_config(HFConfig({**data, "sliding_window": config.int("sliding_window", 4096)}, config.file), layers)


@family("qwen2_moe")
def qwen2_moe(config: HFConfig, options: Options) -> Draft:
    """Qwen2MoeConfig: 60 experts of 1408, top 4, a shared expert of 5632 with a sigmoid gate; q/k/v
    biases (qkv_bias); dense layers (intermediate_size) only by mlp_only_layers / decoder_sparse_step."""
    config = with_defaults(config, vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
                           num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=32768,
                           num_experts=60, num_experts_per_tok=4, moe_intermediate_size=1408,
                           shared_expert_intermediate_size=5632)
    return build_decoder(config, options, DecoderArch(
        "Qwen2-MoE: attention with q/k/v biases, rotary positions, pre-RMSNorm, routed SwiGLU experts beside a "
        "sigmoid-gated shared expert.",
        qkv_bias=config.bool("qkv_bias", True), attention_layers=qwen2_moe_layers, mlp=qwen_moe_slot(shared=True),
    ))


@family("qwen3_moe")
def qwen3_moe(config: HFConfig, options: Options) -> Draft:
    """Qwen3MoeConfig: 128 experts of 768, top 8; per-head q/k RMSNorm; attention_bias default false."""
    config = with_defaults(config, vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=24,
                           num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=32768,
                           num_experts=config.data.get("num_local_experts", 128), num_experts_per_tok=8,
                           moe_intermediate_size=768)
    bias = config.bool("attention_bias", False)
    return build_decoder(config, options, DecoderArch(
        "Qwen3-MoE: grouped-query attention with per-head q/k RMSNorm, rotary positions, pre-RMSNorm, routed SwiGLU "
        "experts.",
        qkv_bias=bias, out_bias=bias, qk_norm="head", attention_layers=qwen3_moe_layers, mlp=qwen_moe_slot(shared=False),
    ))
