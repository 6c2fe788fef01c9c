"""Gemma families: gemma, gemma2, gemma3_text (transformers 5.24.0 config defaults).

All three are the Llama layout with RMSNorms that scale by (1 + weight), embeddings times
sqrt(hidden_size), a tanh-GELU gated MLP and a tied LM head; Gemma 2 adds norms after
attention and the MLP, alternating sliding/global layers, a query_pre_attn_scalar scale and
soft-capped logits; Gemma 3 adds per-head q/k norms and a rotary base per attention type.
"""

from __future__ import annotations

from typing import Any

from archspec.importers.draft import Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import (
    FULL,
    SLIDING,
    DecoderArch,
    build_decoder,
    grouped_query_attention,
    is_null,
    layer_types,
    with_defaults,
)
from archspec.importers.hf.parts import has_head

_COMMON = {"head_dim": 256, "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "attention_bias": False}


def _refuse_bidirectional(config: HFConfig) -> None:
    config.refuse("use_bidirectional_attention", False, "attends both ways (an encoder's mask)")


@family("gemma")
def gemma(config: HFConfig, options: Options) -> Draft:
    """GemmaConfig: head_dim 256, hidden_act "gelu" read as the tanh GELU (as GemmaConfig rewrites it)."""
    config = with_defaults(config, vocab_size=256000, hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
                           num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=8192, **_COMMON)
    if config.raw("hidden_act", "gelu_pytorch_tanh") == "gelu":
        config = HFConfig({**config.data, "hidden_act": "gelu_pytorch_tanh"}, config.file)
    _refuse_bidirectional(config)
    bias = config.bool("attention_bias")
    return build_decoder(config, options, DecoderArch(
        "Gemma: multi-head attention, rotary positions, pre-RMSNorm (1 + weight), GeGLU MLP, scaled embeddings.",
        qkv_bias=bias, out_bias=bias, norm_offset=1, embedding_scale=True, tie_default=True,
        act_default="gelu_pytorch_tanh", attention_layers=lambda _config, layers: ([FULL] * layers, 0),
    ))


def gemma2_layers(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Gemma 2: layer_types, by default alternating sliding (even layers) and full; sliding_window null
    leaves no window to slide."""
    window = 0 if is_null(config, "sliding_window") else config.int("sliding_window", minimum=0)
    if not config.has("layer_types"):
        config = HFConfig({**config.data, "layer_types": [SLIDING if (i + 1) % 2 else FULL for i in range(layers)]},
                          config.file)
    return layer_types(config, layers, window), window


def gemma3_layers(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Gemma 3: layer_types, by default every sliding_window_pattern-th layer full, the others sliding."""
    if not config.has("layer_types"):
        pattern = config.int("sliding_window_pattern", 6)
        config = HFConfig({**config.data, "layer_types": [SLIDING if (i + 1) % pattern else FULL for i in range(layers)]},
                          config.file)
    return gemma2_layers(config, layers)


def gemma3_rope_bases(config: HFConfig) -> dict[str, float]:
    """The rotary base of each attention type: rope_parameters per type (transformers 5), else
    rope_theta (full layers) and rope_local_base_freq (sliding layers)."""
    parameters = config.raw("rope_parameters", {})

    def base(kind: str, key: str, default: float) -> float:
        nested = parameters.get(kind) if isinstance(parameters, dict) else None
        if isinstance(nested, dict) and nested.get("rope_theta") is not None:
            return config.nested_float("rope_parameters", nested, "rope_theta")
        return config.float(key, default)

    return {FULL: base(FULL, "rope_theta", 1_000_000.0), SLIDING: base(SLIDING, "rope_local_base_freq", 10_000.0)}


def _scaled_attention(draft: Draft, config: HFConfig, options: Options, arch: DecoderArch, eps: float) -> dict[str, Any]:
    """The Attention entry, declaring the params its scale and soft-cap (attention_extra) name."""
    attention = grouped_query_attention(draft, config, options, arch, eps)
    draft.param("query_pre_attn_scalar", config.int("query_pre_attn_scalar", 256), "scores scaled by its -1/2 power")
    if "softcap" in arch.attention_extra:
        draft.param("attn_logit_softcapping", config.float("attn_logit_softcapping"), "scores -> cap * tanh(scores / cap)")
    return attention


def _softcap(config: HFConfig, key: str) -> bool:
    return config.has(key)  # a missing key has taken the class default; null turns soft-capping off


def _final_softcap(draft: Draft, config: HFConfig) -> None:
    """final_logit_softcapping: logits -> cap * tanh(logits / cap), after the LM head."""
    if not _softcap(config, "final_logit_softcapping") or not has_head(config, "ForCausalLM"):
        return
    draft.param("final_logit_softcapping", config.float("final_logit_softcapping"), "logits -> cap * tanh(logits / cap)")
    draft.layers += [
        {"name": "softcap_divide", "type": "Mul", "other": "1 / final_logit_softcapping"},
        {"name": "softcap_tanh", "type": "Tanh"},
        {"name": "softcap_multiply", "type": "Mul", "other": "final_logit_softcapping"},
    ]


def _sandwich(config: HFConfig, options: Options, description: str, **knobs: Any) -> Draft:
    """Gemma 2/3: four norms per layer, hidden_activation, the soft-capped attention and logits."""
    _refuse_bidirectional(config)
    bias = config.bool("attention_bias")
    extra = {"scale": "query_pre_attn_scalar ** -0.5"}
    if _softcap(config, "attn_logit_softcapping"):
        extra["softcap"] = "attn_logit_softcapping"
    draft = build_decoder(config, options, DecoderArch(
        description, qkv_bias=bias, out_bias=bias, norm_offset=1, sandwich_norms=True, embedding_scale=True,
        attention_extra=extra, tie_default=True, act_key="hidden_activation", act_default="gelu_pytorch_tanh",
        attention=_scaled_attention, **knobs,
    ))
    _final_softcap(draft, config)
    return draft


@family("gemma2")
def gemma2(config: HFConfig, options: Options) -> Draft:
    """Gemma2Config: sliding_window 4096 on even layers, query_pre_attn_scalar 256, soft-capping 50 (scores)
    and 30 (logits); HF runs it eager by default (SDPA cannot soft-cap)."""
    config = with_defaults(config, vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                           num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=8192, sliding_window=4096,
                           attn_logit_softcapping=50.0, final_logit_softcapping=30.0, **_COMMON)
    return _sandwich(config, options,
                     "Gemma 2: alternating sliding/global grouped-query attention with soft-capping, sandwich RMSNorms "
                     "(1 + weight), GeGLU MLP, scaled embeddings.",
                     attention_layers=gemma2_layers,
                     notes=["transformers runs Gemma 2's attention eagerly unless told otherwise (it has no SDPA path, "
                            "which cannot soft-cap): import with --attention eager for its activation memory."])


@family("gemma3_text")
def gemma3_text(config: HFConfig, options: Options) -> Draft:
    """Gemma3TextConfig: five sliding layers (window 4096) to a global one, per-head q/k norms, no
    soft-capping; rotary base 1e6 for global layers, 1e4 (rope_local_base_freq) for sliding ones."""
    config = with_defaults(config, vocab_size=262208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                           num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=131072, sliding_window=4096,
                           **_COMMON)
    return _sandwich(config, options,
                     "Gemma 3 (text): local/global grouped-query attention with per-head q/k RMSNorm, sandwich RMSNorms "
                     "(1 + weight), GeGLU MLP, scaled embeddings.",
                     qk_norm="head", attention_layers=gemma3_layers, rope_bases=gemma3_rope_bases)
