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
    act_key: str = "hidden_act"  # Gemma 2/3 read hidden_activation
    # the attention entry (its params declared on the draft); default: grouped-query Attention
    attention: Callable[[Draft, HFConfig, Options, DecoderArch, float], dict[str, Any]] | None = None
    # the MLP slot (its params and blocks declared on the draft); default: the gated MLP of intermediate_size
    mlp: Callable[[Draft, HFConfig, DecoderArch], MLPSlot] | None = None
    rotary_dim: str = "head_dim"  # the rotary table's dims (DeepSeek: qk_rope_head_dim)
    # the rotary base of each attention type when they differ (Gemma 3: one table per base); default rope_theta
    rope_bases: Callable[[HFConfig], dict[str, float]] | None = None


@dataclass
class MLPSlot:
    """What follows a decoder layer's MLP norm: its entries (the last one's output is the MLP's) and,
    when layers differ, which are sparse: the layer block's `moe` argument, 1 runs the sparse entries."""

    entries: list[dict[str, Any]]
    sparse: list[bool] | None = None
    # the leading dense layers as one entry repeated by this param (DeepSeek's first_k_dense_replace)
    dense_prefix: str | None = None


def with_defaults(config: HFConfig, **defaults: Any) -> HFConfig:
    """The config with the keys it leaves out set to these values (its config class's defaults)."""
    return HFConfig({**defaults, **config.data}, config.file)


def is_null(config: HFConfig, key: str) -> bool:
    """Whether the config sets `key` to null (which, unlike a missing key, does not take the default)."""
    return key in config.data and config.data[key] is None


def sliding_from_config(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """layer_types when the config lists them; else every layer sliding when sliding_window is set."""
    window = config.int("sliding_window", 0, minimum=0) if config.has("sliding_window") else 0
    return layer_types(config, layers, window), window


def sliding_above(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Qwen 2/3: sliding only with use_sliding_window, from layer max_window_layers on."""
    if not config.bool("use_sliding_window", False):
        full_attention_only(config)
        return [FULL] * layers, 0
    window = config.int("sliding_window")
    if config.has("layer_types"):
        return layer_types(config, layers, window), window
    first = config.int("max_window_layers", layers, minimum=0)
    return [SLIDING if i >= first else FULL for i in range(layers)], window


def full_attention_only(config: HFConfig) -> None:
    """Without use_sliding_window, layer_types (if listed) may name full attention only."""
    types = config.raw("layer_types", None)
    if types is None:
        return
    if not isinstance(types, list):
        raise config.error(f"expected a list of {FULL!r} or {SLIDING!r}, found {types!r}", "layer_types")
    if any(t != FULL for t in types):
        raise config.error("names sliding layers, but use_sliding_window is false", "layer_types")


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


WINDOWS = {FULL: 0, SLIDING: "sliding_window"}  # a layer's attention_window argument, by attention type


def stack(draft: Draft, layer: str, types: list[str], count: str, sources: list[str]) -> list[dict[str, Any] | Comment]:
    """The layer stack of layers that differ only by their attention type (stack_layers)."""
    kinds = [{"attention_window": WINDOWS[t]} for t in types]
    return stack_layers(draft, layer, kinds, count, sources[0], [sources[1]] * len(types))


def stack_layers(draft: Draft, layer: str, kinds: list[dict[str, Any]], count: str, source: str, ropes: list[str],
                 prefix: tuple[str, str, int] | None = None) -> list[dict[str, Any] | Comment]:
    """The layer stack, each layer given its block arguments (`kinds`) and its rotary table: one repeat
    when every layer is alike; a `prefix` (entry name, param, its value) of alike layers then the rest alike; else
    the shortest repeating pattern as a block (repeated count // period, the rest after it); else runs
    of alike layers."""
    n = len(kinds)
    keys = [(tuple(kind.items()), rope) for kind, rope in zip(kinds, ropes)]

    def entry(name: str, i: int, previous: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "type": layer, **kinds[i], "from": [previous, ropes[i]], **extra}

    if len(set(keys)) == 1:
        return [entry("layers", 0, source, repeat=count)]
    if prefix is not None and 0 < prefix[2] < n and len(set(keys[:prefix[2]])) == len(set(keys[prefix[2]:])) == 1:
        name, param, first = prefix
        return [entry(name, 0, source, repeat=param), entry("layers", first, name, repeat=f"{count} - {param}")]
    period = next((p for p in range(2, 9) if all(keys[i] == keys[i % p] for i in range(n))), None)
    if period is not None and n // period >= 2:
        return _pattern(draft, layer, kinds, ropes, count, source, period, entry)
    entries, previous, start = [], source, 0
    while start < n:
        end = start
        while end < n and keys[end] == keys[start]:
            end += 1
        name = f"layers_{start}_{end - 1}"
        entries.append(entry(name, start, previous, repeat=end - start))
        previous, start = name, end
    return entries


def _describe(kind: dict[str, Any]) -> str:
    words = []
    if "attention_window" in kind:
        words.append("sliding" if kind["attention_window"] else "full")
    if "moe" in kind:
        words.append("MoE" if kind["moe"] else "dense")
    return " ".join(words)


def _pattern(draft: Draft, layer: str, kinds: list[dict[str, Any]], ropes: list[str], count: str, source: str,
             period: int, entry: Callable[..., dict[str, Any]]) -> list[dict[str, Any] | Comment]:
    """A repeating pattern of `period` layers as the LayerGroup block, then the layers left over."""
    n = len(kinds)
    tables = list(dict.fromkeys(ropes))
    inside = {table: "rope" for table in tables} if len(tables) == 1 else {table: table for table in tables}
    names = [f"layer{i}" for i in range(period)]
    draft.blocks["LayerGroup"] = Block(
        comment=f"{period} layers: " + ", ".join(_describe(kind) for kind in kinds[:period]),
        inputs=["x", *inside.values()],
        layers=[
            {"name": name, "type": layer, **kinds[i], "from": [names[i - 1] if i else "x", inside[ropes[i]]]}
            for i, name in enumerate(names)
        ],
    )
    entries: list[dict[str, Any] | Comment] = [
        {"name": "layers", "type": "LayerGroup", "from": [source, *tables], "repeat": f"{count} // {period}"}
    ]
    rest = n % period
    if rest:
        entries.append(Comment(f"the last {rest} of the {n} layers: the pattern's first {rest}"))
        previous = "layers"
        for i in range(rest):
            entries.append(entry(f"layers_tail{i}", i, previous))
            previous = f"layers_tail{i}"
    return entries


def grouped_query_attention(draft: Draft, config: HFConfig, options: Options, arch: DecoderArch, eps: float) -> dict[str, Any]:
    """The Attention entry of the Llama layout (num_attention_heads, num_key_value_heads, head_dim)."""
    hidden, heads = config.int("hidden_size"), config.int("num_attention_heads")
    head_dim = config.int("head_dim", hidden // heads) if config.has("head_dim") else hidden // heads
    draft.param("num_attention_heads", heads)
    draft.param("num_key_value_heads", config.int("num_key_value_heads", heads))
    draft.param("head_dim", head_dim)
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
    return attention


def gated_mlp_slot(draft: Draft, config: HFConfig, arch: DecoderArch) -> MLPSlot:
    """The MLP slot of the Llama layout: a gated MLP of intermediate_size in every layer."""
    draft.param("intermediate_size", config.int("intermediate_size"))
    act = activation(config, arch.act_key, arch.act_default)
    return MLPSlot([{"name": "mlp", "type": gated_mlp(draft, act, "hidden_size", "intermediate_size", bias=arch.mlp_bias)}])


def _layer_kinds(types: list[str], slot: MLPSlot, windowed: bool) -> list[dict[str, Any]]:
    """Each layer's block arguments: its attention window (when the attention has one), and moe when
    the MLP differs between layers."""
    varies = slot.sparse is not None and len(set(slot.sparse)) > 1
    kinds = []
    for i, kind in enumerate(types):
        args: dict[str, Any] = {"attention_window": WINDOWS[kind]} if windowed else {}
        if varies:
            args["moe"] = int(slot.sparse[i])
        kinds.append(args)
    return kinds


def _rotary_tables(config: HFConfig, arch: DecoderArch, types: list[str]) -> dict[str, tuple[str, float]]:
    """Each attention type's rotary table (name, base): rotary_emb, and rotary_emb_local for the
    sliding layers when their base differs (Gemma 3)."""
    if arch.rope_bases is None:
        base = rope_theta(config)
        return {FULL: ("rotary_emb", base), SLIDING: ("rotary_emb", base)}
    bases = arch.rope_bases(config)
    if len({bases[t] for t in types}) == 1:
        return {t: ("rotary_emb", bases[t]) for t in (FULL, SLIDING)}
    return {FULL: ("rotary_emb", bases[FULL]), SLIDING: ("rotary_emb_local", bases[SLIDING])}


def _layer_body(arch: DecoderArch, attention: dict[str, Any], slot: MLPSlot,
                norm: Callable[..., dict[str, Any]]) -> tuple[list[dict[str, Any] | Comment], str]:
    """A decoder layer's entries and their comment: pre-norms (Llama), sandwich norms (Gemma 2/3) or
    norms after attention and the MLP only (OLMo 2)."""
    if arch.post_norms_only:
        return [
            {**attention, "from": ["x", "rope"]},
            norm("post_attention_layernorm"),
            {"name": "attn_residual", "type": "Add", "from": ["post_attention_layernorm", "x"]},
            *slot.entries,
            norm("post_feedforward_layernorm"),
            {"name": "mlp_residual", "type": "Add", "from": ["post_feedforward_layernorm", "attn_residual"]},
        ], "x + norm(attn(x)), then + norm(mlp(.))"
    if arch.sandwich_norms:
        return [
            norm("input_layernorm", **{"from": "x"}),
            {**attention, "from": ["input_layernorm", "rope"]},
            norm("post_attention_layernorm"),
            {"name": "attn_residual", "type": "Add", "from": ["post_attention_layernorm", "x"]},
            norm("pre_feedforward_layernorm"),
            *slot.entries,
            norm("post_feedforward_layernorm"),
            {"name": "mlp_residual", "type": "Add", "from": ["post_feedforward_layernorm", "attn_residual"]},
        ], "x + norm(attn(norm(x))), then + norm(mlp(norm(.)))"
    return [
        norm("input_layernorm", **{"from": "x"}),
        {**attention, "from": ["input_layernorm", "rope"]},
        {"name": "attn_residual", "type": "Add", "from": [attention["name"], "x"]},
        norm("post_attention_layernorm"),
        *slot.entries,
        {"name": "mlp_residual", "type": "Add", "from": [slot.entries[-1]["name"], "attn_residual"]},
    ], "x + attn(norm(x)), then + mlp(norm(.))"


def build_decoder(config: HFConfig, options: Options, arch: DecoderArch) -> Draft:
    """A Llama-layout decoder: embedding, rotary table, pre-norm decoder layers, final norm, LM head."""
    layers = config.layers("num_hidden_layers")
    eps = config.float(arch.eps_key, arch.eps_default)
    types, window = (arch.attention_layers or sliding_from_config)(config, layers)
    config.refuse("pretraining_tp", 1, "splits the projections into slices at the same cost; set it to 1")

    name = options.name or config.model_type
    draft = Draft(name=name, description=arch.description, header=header(config, arch.description, arch.notes))
    max_positions = config.int("max_position_embeddings", arch.default_length)
    draft.param("B", 1, "batch")
    draft.param("L", min(max_positions, arch.default_length), f"sequence length (max_position_embeddings: {max_positions})")
    draft.param("vocab_size", config.int("vocab_size"))
    draft.param("hidden_size", config.int("hidden_size"))
    draft.param("num_hidden_layers", layers)
    attention = (arch.attention or grouped_query_attention)(draft, config, options, arch, eps)
    slot = (arch.mlp or gated_mlp_slot)(draft, config, arch)
    if SLIDING in types:
        draft.param("sliding_window", window, "tokens each query sees in a sliding layer")
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}

    norm = lambda layer_name, **extra: rms_norm(layer_name, eps, arch.norm_offset, **extra)  # noqa: E731
    body, comment = _layer_body(arch, attention, slot, norm)
    kinds = _layer_kinds(types, slot, "window" in attention)
    args = dict.fromkeys(kinds[0])
    if slot.sparse is not None and len(set(slot.sparse)) > 1:
        comment += "; the MLP dense (moe: 0) or sparse (moe: 1)"
    draft.blocks["DecoderLayer"] = Block(comment=comment, inputs=["x", "rope"], args=args or None, layers=body)

    top: list[dict[str, Any] | Comment] = [
        {"name": "embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
         "from": "input_ids"},
    ]
    embedded = "embed_tokens"
    if arch.embedding_scale:
        top.append({"name": "normalizer", "type": "Mul", "other": "hidden_size ** 0.5"})
        embedded = "normalizer"
    tables = _rotary_tables(config, arch, types)
    for table, base in sorted({tables[t] for t in types}):
        top.append({"name": table, "type": "RotaryEmbedding", "dim": arch.rotary_dim, "base": base, "from": "input_ids"})
    prefix = None
    if slot.dense_prefix is not None and slot.sparse is not None and True in slot.sparse:
        prefix = ("dense_layers", slot.dense_prefix, slot.sparse.index(True))
    top += stack_layers(draft, "DecoderLayer", kinds, "num_hidden_layers", embedded, [tables[t][0] for t in types], prefix)
    top.append(norm("norm"))
    if has_head(config, *arch.head_suffixes):
        top.append(lm_head(draft, config, "vocab_size", "embed_tokens", arch.tie_default))
    draft.layers = top
    return draft
