"""Pieces every HF family uses: activations, norms, the rotary table, MLPs, heads and the header."""

from __future__ import annotations

import math
from typing import Any

from archspec.importers.draft import Block, Draft
from archspec.importers.hf.config import HFConfig

# HF's ACT2FN names -> the spec's layer; HF's written-out tanh GELUs (gelu_new, gelu_fast)
# cost the same matrix FLOPs and are counted as the tanh approximation
ACTIVATIONS: dict[str, dict[str, Any]] = {
    "silu": {"type": "SiLU"},
    "swish": {"type": "SiLU"},
    "gelu": {"type": "GELU"},
    "gelu_pytorch_tanh": {"type": "GELU", "approximate": "tanh"},
    "gelu_new": {"type": "GELU", "approximate": "tanh"},
    "gelu_fast": {"type": "GELU", "approximate": "tanh"},
    "relu": {"type": "ReLU"},
    "tanh": {"type": "Tanh"},
    "sigmoid": {"type": "Sigmoid"},
}


def activation(config: HFConfig, key: str, default: str, name: str = "act_fn") -> dict[str, Any]:
    """The activation layer a config key names."""
    act = config.choice(key, tuple(ACTIVATIONS), default)
    return {"name": name, **ACTIVATIONS[act]}


def rms_norm(name: str, eps: float, offset: int = 0, **extra: Any) -> dict[str, Any]:
    """HF's RMSNorm as its models write it out (kernel: eager); offset 1 scales by 1 + weight (Gemma)."""
    layer = {"name": name, "type": "RMSNorm", "eps": eps}
    if offset:
        layer["weight_offset"] = 1
    return {**layer, "kernel": "eager", **extra}


def layer_norm(name: str, eps: float, bias: bool = True, **extra: Any) -> dict[str, Any]:
    layer = {"name": name, "type": "LayerNorm", "eps": eps}
    if not bias:
        layer["bias"] = False
    return {**layer, **extra}


def gated_mlp(draft: Draft, act: dict[str, Any], hidden: str, inner: str, bias: bool = False, block: str = "MLP",
              names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj")) -> str:
    """down(act(gate(x)) * up(x)) as a block; returns its name."""
    gate, up, down = names
    draft.blocks[block] = Block(
        comment=f"{down}({act['type']}({gate}(x)) * {up}(x))",
        layers=[
            {"name": gate, "type": "Linear", "out_features": inner, "bias": bias},
            act,
            {"name": up, "type": "Linear", "out_features": inner, "bias": bias, "from": "input"},
            {"name": "gated", "type": "Mul", "from": [act["name"], up]},
            {"name": down, "type": "Linear", "out_features": hidden, "bias": bias},
        ],
    )
    return block


def plain_mlp(draft: Draft, act: dict[str, Any], hidden: str, inner: str, bias: bool = True, block: str = "MLP",
              names: tuple[str, str] = ("fc1", "fc2")) -> str:
    """fc2(act(fc1(x))) as a block; returns its name."""
    first, second = names
    draft.blocks[block] = Block(
        comment=f"{second}({act['type']}({first}(x)))",
        layers=[
            {"name": first, "type": "Linear", "out_features": inner, "bias": bias},
            act,
            {"name": second, "type": "Linear", "out_features": hidden, "bias": bias},
        ],
    )
    return block


def rotary_dim(config: HFConfig, head_dim: int) -> int:
    """The rotated dims per head: partial_rotary_factor (or rotary_pct) of the head."""
    factor = config.float("partial_rotary_factor", 1.0) if config.has("partial_rotary_factor") else config.float("rotary_pct", 1.0)
    dim = int(head_dim * factor)
    if not 0 < dim <= head_dim or dim % 2:
        raise config.error(f"gives {dim} rotated dims of a {head_dim}-dim head; expected an even number", "partial_rotary_factor")
    return dim


def rope_theta(config: HFConfig, default: float = 10000.0) -> float:
    """The rotary base, from rope_parameters (transformers 5) or rope_theta."""
    parameters = config.raw("rope_parameters", {})
    if isinstance(parameters, dict) and parameters.get("rope_theta") is not None:
        return config.nested_float("rope_parameters", parameters, "rope_theta")
    return config.float("rope_theta", default)


def lm_head(draft: Draft, config: HFConfig, vocab: str, embedding: str, tie_default: bool, name: str = "lm_head",
            bias: bool = False) -> dict[str, Any]:
    """The output projection; tied to the token embedding when tie_word_embeddings (its weight counts once)."""
    layer = {"name": name, "type": "Linear", "out_features": vocab, "bias": bias}
    if config.bool("tie_word_embeddings", tie_default):
        layer["shares"] = embedding
    return layer


def has_head(config: HFConfig, *suffixes: str) -> bool:
    """Whether the config's architecture adds a head (ForCausalLM, ...) to the bare model; no
    architectures key counts as the first suffix's class."""
    return not config.architecture or config.architecture.endswith(suffixes)


def header(config: HFConfig, description: str, notes: list[str] | None = None) -> list[str]:
    """The header comment: the source, the model type and the architecture."""
    source = config.file or "a config"
    lines = [
        f"Imported from {source} by archspec import (HuggingFace transformers {_version()} layout).",
        f"model_type: {config.model_type}" + (f"; architecture: {config.architecture}" if config.architecture else ""),
        description,
    ]
    return lines + (notes or [])


def _version() -> str:
    from archspec.importers.hf import TRANSFORMERS_VERSION

    return TRANSFORMERS_VERSION


def embedding_scale(hidden_size: int) -> float:
    """sqrt(hidden): Gemma multiplies the embeddings by it."""
    return math.sqrt(hidden_size)
