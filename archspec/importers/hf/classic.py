"""Pieces of the pre-Llama decoders (GPT-2, GPT-NeoX, GPT-J, OPT, BLOOM, Falcon, Phi, StarCoder2):
LayerNorm blocks with biases, plain MLPs, learned, rotary or ALiBi positions, dropouts where
the config sets them (their masks count in training memory), and the head.

The families in gpt.py and phi_olmo.py write each layer's body themselves from these pieces,
as the bodies differ (sequential, parallel with one or two norms, post-norm).
"""

from __future__ import annotations

from typing import Any

from archspec.importers.draft import Block, Draft
from archspec.importers.hf import Options
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.parts import has_head, header, lm_head, plain_mlp

Entry = dict[str, Any]


def canonical(config: HFConfig, aliases: dict[str, str]) -> HFConfig:
    """The config with its aliased keys (a config class's attribute_map, legacy names) under
    their canonical name, when the canonical key is not set itself."""
    data = dict(config.data)
    for alias, key in aliases.items():
        if data.get(key) is None and data.get(alias) is not None:
            data[key] = data[alias]
    return HFConfig(data, config.file)


def with_defaults(config: HFConfig, defaults: dict[str, Any]) -> HFConfig:
    """The config with the config class's defaults filled in for missing keys (for builders that
    read these keys without a default)."""
    data = dict(config.data)
    for key, value in defaults.items():
        if data.get(key) is None:
            data[key] = value
    return HFConfig(data, config.file)


def start(config: HFConfig, options: Options, description: str, notes: list[str] | None = None) -> Draft:
    """An empty draft with the header and the batch param."""
    draft = Draft(name=options.name or config.model_type, description=description,
                  header=header(config, description, notes))
    draft.param("B", 1, "batch")
    return draft


def sequence_length(draft: Draft, config: HFConfig, key: str, default: int, cap: int = 4096) -> None:
    """L: the positions key (at most `cap`), with a comment naming it."""
    positions = config.int(key, default)
    draft.param("L", min(positions, cap), f"sequence length ({key}: {positions})")


def rotary_factor(config: HFConfig, default: float) -> tuple[float, str]:
    """The rotated fraction of each head and the key it comes from: rope_parameters (transformers 5),
    else the legacy top-level partial_rotary_factor or rotary_pct, else the config class's default."""
    parameters = config.raw("rope_parameters", {})
    if isinstance(parameters, dict) and parameters.get("partial_rotary_factor") is not None:
        factor = parameters["partial_rotary_factor"]
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise config.error(f"partial_rotary_factor: expected a number, found {factor!r}", "rope_parameters")
        return float(factor), "rope_parameters"
    for key in ("partial_rotary_factor", "rotary_pct"):
        if config.has(key):
            return config.float(key), key
    return default, "partial_rotary_factor"


def rotated_dims(config: HFConfig, head_dim: int, default_factor: float) -> int:
    """int(head_dim * factor), as HF's rotary modules compute it; it must be even (pairs of dims)."""
    factor, key = rotary_factor(config, default_factor)
    dims = int(head_dim * factor)
    if not 0 < dims <= head_dim or dims % 2:
        raise config.error(f"partial_rotary_factor {factor} gives {dims} rotated dims of a {head_dim}-dim head; expected "
                           f"an even number from 2 to {head_dim}", key)
    return dims


def probability(config: HFConfig, key: str, default: float) -> float:
    """A dropout probability key."""
    p = config.float(key, default)
    if not 0 <= p <= 1:
        raise config.error(f"expected a probability from 0 to 1, found {p}", key)
    return p


def dropout(name: str, p: float, **extra: Any) -> list[Entry]:
    """A Dropout layer when p > 0 (the identity at inference; its mask counts in training), else nothing."""
    return [{"name": name, "type": "Dropout", "p": p, **extra}] if p > 0 else []


def last(entries: list[Entry]) -> str:
    """The name of a chain's last entry: what the chain outputs."""
    return entries[-1]["name"]


def add(name: str, *sources: str) -> Entry:
    return {"name": name, "type": "Add", "from": list(sources)}


def layer_norm(name: str, eps: float, source: str | None = None, affine: bool = True) -> Entry:
    """torch.nn.LayerNorm with its bias."""
    layer: Entry = {"name": name, "type": "LayerNorm", "eps": eps}
    if not affine:
        layer["elementwise_affine"] = False
    if source is not None:
        layer["from"] = source
    return layer


def attention(options: Options, name: str, heads: str, bias: bool, source: str, extra_inputs: list[str],
              p: float = 0.0, **fields: Any) -> Entry:
    """Causal self-attention on `source` (plus the rotary table or ALiBi bias it reads), with the
    kernel the import asks for; `fields` adds num_kv_heads, head_dim, rotary, window, ..."""
    sizes = {key: fields.pop(key) for key in ("num_kv_heads", "head_dim") if key in fields}
    layer: Entry = {"name": name, "type": "Attention", "num_heads": heads, **sizes, "qkv_bias": bias, "out_bias": bias,
                    "causal": True, **fields}
    if p > 0:
        layer["dropout"] = p
    if options.attention == "eager" and "kernel" not in layer:
        layer["kernel"] = "eager"
    layer["from"] = [source, *extra_inputs] if extra_inputs else source
    return layer


def mlp(draft: Draft, block: str, act: Entry, hidden: str, inner: str, bias: bool, names: tuple[str, str],
        p: float = 0.0, dropout_name: str = "dropout") -> str:
    """A plain two-layer MLP block (parts.plain_mlp), with the dropout HF applies to its output."""
    plain_mlp(draft, act, hidden, inner, bias=bias, block=block, names=names)
    draft.blocks[block].layers += dropout(dropout_name, p)
    return block


def layer_block(draft: Draft, name: str, comment: str, body: list[Entry], extra_inputs: list[str]) -> None:
    """The decoder layer block: input x, and the rotary table or ALiBi bias every layer reads."""
    draft.blocks[name] = Block(comment=comment, inputs=["x", *extra_inputs], layers=body)


def stack(name: str, block: str, source: str, extra_inputs: list[str], count: str) -> Entry:
    """The layers, `count` applications of the layer block."""
    return {"name": name, "type": block, "from": [source, *extra_inputs] if extra_inputs else source, "repeat": count}


def head(draft: Draft, config: HFConfig, suffixes: tuple[str, ...], vocab: str, embedding: str, tie_default: bool,
         bias: bool = False) -> list[Entry]:
    """The LM head when the architecture has one (tied per tie_word_embeddings, the family's default)."""
    if not has_head(config, *suffixes):
        return []
    return [lm_head(draft, config, vocab, embedding, tie_default, bias=bias)]
