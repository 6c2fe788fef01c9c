"""Llama-layout families: llama, mistral, qwen2, qwen3 (transformers 5.24.0 config defaults)."""

from __future__ import annotations

from archspec.importers.draft import Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import DecoderArch, build_decoder, sliding_above


@family("llama")
def llama(config: HFConfig, options: Options) -> Draft:
    """LlamaConfig: attention_bias and mlp_bias default false, head_dim hidden/heads, eps 1e-6."""
    bias = config.bool("attention_bias", False)
    return build_decoder(config, options, DecoderArch(
        "Llama: grouped-query attention, rotary positions, pre-RMSNorm, SwiGLU MLP.",
        qkv_bias=bias, out_bias=bias, mlp_bias=config.bool("mlp_bias", False),
    ))


@family("mistral")
def mistral(config: HFConfig, options: Options) -> Draft:
    """MistralConfig: sliding_window 4096 unless null; no biases."""
    data = dict(config.data)
    if "sliding_window" not in data:
        data["sliding_window"] = 4096  # MistralConfig's default
    config = HFConfig(data, config.file)
    return build_decoder(config, options, DecoderArch(
        "Mistral: grouped-query attention over a sliding window, rotary positions, pre-RMSNorm, SwiGLU MLP.",
    ))


@family("qwen2")
def qwen2(config: HFConfig, options: Options) -> Draft:
    """Qwen2Config: biases on q, k and v (not the output); sliding window only with use_sliding_window."""
    return build_decoder(config, options, DecoderArch(
        "Qwen2: grouped-query attention with q/k/v biases, rotary positions, pre-RMSNorm, SwiGLU MLP.",
        qkv_bias=True, attention_layers=sliding_above, default_length=4096,
    ))


@family("qwen3")
def qwen3(config: HFConfig, options: Options) -> Draft:
    """Qwen3Config: RMSNorm of each head's queries and keys; attention_bias default false."""
    bias = config.bool("attention_bias", False)
    return build_decoder(config, options, DecoderArch(
        "Qwen3: grouped-query attention with per-head q/k RMSNorm, rotary positions, pre-RMSNorm, SwiGLU MLP.",
        qkv_bias=bias, out_bias=bias, qk_norm="head", attention_layers=sliding_above,
    ))
