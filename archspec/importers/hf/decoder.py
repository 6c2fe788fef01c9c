"""The decoder-only transformer most HF families share (Llama's layout), with the knobs
the families differ by; families with another layout write their own builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from archspec.importers.draft import Block, Comment, Draft
from archspec.importers.hf import Options
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.parts import activation, gated_mlp, has_head, header, lm_head, rms_norm, rope_theta

FULL, SLIDING = "full_attention", "sliding_attention"


@dataclass
class DecoderArch:
    """What a Llama-like family changes: biases, q/k norms, norm offsets, extra norms, windows."""

    description: str
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    qk_norm: str = "none"  # none | head | full
    norm_offset: int = 0  # Gemma: RMSNorm scales by 1 + weight
    sandwich_norms: bool = False  # Gemma 2/3: norms after attention and MLP too
    post_norms_only: bool = False  # OLMo 2: norms after attention and MLP, none before
    embedding_scale: bool = False  # Gemma: embeddings * sqrt(hidden)
    attention_extra: dict[str, Any] = field(default_factory=dict)  # scale, softcap, ...
    head_suffixes: tuple[str, ...] = ("ForCausalLM",)
    tie_default: bool = False
    act_default: str = "silu"
    eps_key: str = "rms_norm_eps"
    eps_default: float = 1e-6
    default_length: int = 4096
    notes: list[str] = field(default_factory=list)
    # each layer's attention and the window: layer_types, or every layer sliding when sliding_window is set
    attention_layers: Callable[[HFConfig, int], tuple[list[str], int]] | None = None


def sliding_from_config(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """layer_types when the config lists them; else every layer sliding when sliding_window is set."""
    window = config.int("sliding_window", 0, minimum=0) if config.has("sliding_window") else 0
    return layer_types(config, layers, window), window


def sliding_above(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Qwen 2/3: sliding only with use_sliding_window, from layer max_window_layers on."""
    if not config.bool("use_sliding_window", False):
        types = config.raw("layer_types", None)
        if types is not None and any(t != FULL for t in types):
            raise config.error("names sliding layers, but use_sliding_window is false", "layer_types")
        return [FULL] * layers, 0
    window = config.int("sliding_window")
    if config.has("layer_types"):
        return layer_types(config, layers, window), window
    first = config.int("max_window_layers", layers, minimum=0)
    return [SLIDING if i >= first else FULL for i in range(layers)], window


def layer_types(config: HFConfig, layers: int, window: int | None) -> list[str]:
    """Each layer's attention: full, or sliding over `window` tokens (layer_types, or every layer
    sliding when a window is set and the config does not say otherwise)."""
    types = config.raw("layer_types", None)
    if types is None:
        return [SLIDING if window else FULL] * layers
    if not isinstance(types, list) or len(types) != layers or any(t not in (FULL, SLIDING) for t in types):
        raise config.error(f"expected {layers} entries, each {FULL!r} or {SLIDING!r}", "layer_types")
    if SLIDING in types and not window:
        raise config.error("names sliding layers, but sliding_window is not set", "layer_types")
    return types


def stack(draft: Draft, layer: str, types: list[str], count: str, sources: list[str]) -> list[dict[str, Any] | Comment]:
    """The layer stack: one repeat when every layer is alike; else the shortest repeating
    pattern as a block (repeated count // period, the rest after it); else runs of alike layers."""
    windows = {FULL: 0, SLIDING: "sliding_window"}
    n = len(types)
    if len(set(types)) == 1:
        return [{"name": "layers", "type": layer, "attention_window": windows[types[0]], "from": sources, "repeat": count}]
    period = next((p for p in range(2, 9) if all(types[i] == types[i % p] for i in range(n))), None)
    if period is not None and n // period >= 2:
        names = [f"layer{i}" for i in range(period)]
        draft.blocks["LayerGroup"] = Block(
            comment=f"{period} layers: " + ", ".join("sliding" if t == SLIDING else "full" for t in types[:period]),
            inputs=["x", "rope"],
            layers=[
                {"name": name, "type": layer, "attention_window": windows[types[i]], "from": [names[i - 1] if i else "x", "rope"]}
                for i, name in enumerate(names)
            ],
        )
        entries: list[dict[str, Any] | Comment] = [
            {"name": "layers", "type": "LayerGroup", "from": sources, "repeat": f"{count} // {period}"}
        ]
        rest = n % period
        if rest:
            entries.append(Comment(f"the last {rest} of the {n} layers: the pattern's first {rest}"))
            previous = "layers"
            for i in range(rest):
                entries.append({"name": f"layers_tail{i}", "type": layer, "attention_window": windows[types[i]],
                                "from": [previous, sources[1]]})
                previous = f"layers_tail{i}"
        return entries
    entries, previous, start = [], sources[0], 0
    while start < n:
        end = start
        while end < n and types[end] == types[start]:
            end += 1
        name = f"layers_{start}_{end - 1}"
        entries.append({"name": name, "type": layer, "attention_window": windows[types[start]], "from": [previous, sources[1]],
                        "repeat": end - start})
        previous, start = name, end
    return entries


def build_decoder(config: HFConfig, options: Options, arch: DecoderArch) -> Draft:
    """A Llama-layout decoder: embedding, rotary table, pre-norm decoder layers, final norm, LM head."""
    hidden = config.int("hidden_size")
    heads = config.int("num_attention_heads")
    kv_heads = config.int("num_key_value_heads", heads)
    head_dim = config.int("head_dim", hidden // heads) if config.has("head_dim") else hidden // heads
    layers = config.int("num_hidden_layers")
    eps = config.float(arch.eps_key, arch.eps_default)
    types, window = (arch.attention_layers or sliding_from_config)(config, layers)
    config.refuse("pretraining_tp", 1, "splits the projections into slices at the same cost; set it to 1")

    name = options.name or config.model_type
    draft = Draft(name=name, description=arch.description, header=header(config, arch.description, arch.notes))
    max_positions = config.int("max_position_embeddings", arch.default_length)
    draft.param("B", 1, "batch")
    draft.param("L", min(max_positions, arch.default_length), f"sequence length (max_position_embeddings: {max_positions})")
    draft.param("vocab_size", config.int("vocab_size"))
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", layers)
    draft.param("num_attention_heads", heads)
    draft.param("num_key_value_heads", kv_heads)
    draft.param("head_dim", head_dim)
    draft.param("intermediate_size", config.int("intermediate_size"))
    if SLIDING in types:
        draft.param("sliding_window", window, "tokens each query sees in a sliding layer")
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}

    act = activation(config, "hidden_act", arch.act_default)
    mlp = gated_mlp(draft, act, "hidden_size", "intermediate_size", bias=arch.mlp_bias)
    attention = {
        "name": "self_attn", "type": "Attention", "num_heads": "num_attention_heads", "num_kv_heads": "num_key_value_heads",
        "head_dim": "head_dim", "qkv_bias": arch.qkv_bias, "out_bias": arch.out_bias, "causal": True,
        "window": "attention_window", **arch.attention_extra, "rotary": True,
    }
    if arch.qk_norm != "none":
        attention["qk_norm"] = arch.qk_norm
        if arch.norm_offset:
            attention["qk_norm_offset"] = 1
        attention["qk_norm_eps"] = eps
    if options.attention == "eager":
        attention["kernel"] = "eager"
    norm = lambda layer_name, **extra: rms_norm(layer_name, eps, arch.norm_offset, **extra)  # noqa: E731
    body: list[dict[str, Any] | Comment] = []
    if arch.post_norms_only:
        body += [
            {**attention, "from": ["x", "rope"]},
            norm("post_attention_layernorm"),
            {"name": "attn_residual", "type": "Add", "from": ["post_attention_layernorm", "x"]},
            {"name": "mlp", "type": mlp},
            norm("post_feedforward_layernorm"),
            {"name": "mlp_residual", "type": "Add", "from": ["post_feedforward_layernorm", "attn_residual"]},
        ]
        comment = "x + norm(attn(x)), then + norm(mlp(.))"
    elif arch.sandwich_norms:
        body += [
            norm("input_layernorm", **{"from": "x"}),
            {**attention, "from": ["input_layernorm", "rope"]},
            norm("post_attention_layernorm"),
            {"name": "attn_residual", "type": "Add", "from": ["post_attention_layernorm", "x"]},
            norm("pre_feedforward_layernorm"),
            {"name": "mlp", "type": mlp},
            norm("post_feedforward_layernorm"),
            {"name": "mlp_residual", "type": "Add", "from": ["post_feedforward_layernorm", "attn_residual"]},
        ]
        comment = "x + norm(attn(norm(x))), then + norm(mlp(norm(.)))"
    else:
        body += [
            norm("input_layernorm", **{"from": "x"}),
            {**attention, "from": ["input_layernorm", "rope"]},
            {"name": "attn_residual", "type": "Add", "from": ["self_attn", "x"]},
            norm("post_attention_layernorm"),
            {"name": "mlp", "type": mlp},
            {"name": "mlp_residual", "type": "Add", "from": ["mlp", "attn_residual"]},
        ]
        comment = "x + attn(norm(x)), then + mlp(norm(.))"
    draft.blocks["DecoderLayer"] = Block(comment=comment, inputs=["x", "rope"], args={"attention_window": None}, layers=body)

    top: list[dict[str, Any] | Comment] = [
        {"name": "embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
         "from": "input_ids"},
    ]
    embedded = "embed_tokens"
    if arch.embedding_scale:
        top.append({"name": "normalizer", "type": "Mul", "other": "hidden_size ** 0.5"})
        embedded = "normalizer"
    top.append({"name": "rotary_emb", "type": "RotaryEmbedding", "dim": "head_dim", "base": rope_theta(config),
                "from": "input_ids"})
    top += stack(draft, "DecoderLayer", types, "num_hidden_layers", [embedded, "rotary_emb"])
    top.append(norm("norm"))
    if has_head(config, *arch.head_suffixes):
        top.append(lm_head(draft, config, "vocab_size", "embed_tokens", arch.tie_default))
    draft.layers = top
    return draft
