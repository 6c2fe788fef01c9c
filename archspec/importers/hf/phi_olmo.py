"""phi, phi3 and olmo2 (transformers 5.24.0 config defaults): Phi-1/2's parallel LayerNorm block,
and the two Llama-layout variants, Phi-3 (fused projections, sliding window) and OLMo 2 (norms
after attention and MLP, RMSNorm of all queries and keys)."""

from __future__ import annotations

from archspec.importers.draft import Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.classic import (
    add,
    attention,
    dropout,
    head,
    last,
    layer_block,
    layer_norm,
    mlp,
    probability,
    rotated_dims,
    rotary_factor,
    sequence_length,
    stack,
    start,
    with_defaults,
)
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import FULL, DecoderArch, build_decoder
from archspec.importers.hf.parts import activation, rope_theta


def _head_dim(config: HFConfig, hidden: int, heads: int) -> int:
    """head_dim when the config sets it (HF's getattr), else hidden / heads."""
    if config.has("head_dim"):
        return config.int("head_dim")
    if hidden % heads:
        raise config.error(f"must divide the hidden size {hidden}", "num_attention_heads")
    return hidden // heads


@family("phi")
def phi(config: HFConfig, options: Options) -> Draft:
    """PhiConfig: one LayerNorm feeds attention and a gelu_new MLP in parallel; rotary on half of each
    head (partial_rotary_factor 0.5); biases everywhere, lm_head too; untied."""
    config.choice("qk_layernorm", (False,), False)
    draft = start(config, options, "Phi: parallel attention and GELU MLP from one LayerNorm, partial rotary positions, "
                  "biases everywhere.")
    sequence_length(draft, config, "max_position_embeddings", 2048)
    draft.param("vocab_size", config.int("vocab_size", 51200))
    hidden = config.int("hidden_size", 2048)
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 24))
    heads = config.int("num_attention_heads", 32)
    draft.param("num_attention_heads", heads)
    draft.param("num_key_value_heads", config.int("num_key_value_heads", heads))
    head_dim = draft.param("head_dim", _head_dim(config, hidden, heads))
    draft.param("intermediate_size", config.int("intermediate_size", 8192))
    draft.param("rotary_ndims", rotated_dims(config, _head_dim(config, hidden, heads), 0.5),
                "int(head_dim * partial_rotary_factor)")
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}

    eps = config.float("layer_norm_eps", 1e-5)
    resid = probability(config, "resid_pdrop", 0.0)
    act = activation(config, "hidden_act", "gelu_new", name="activation_fn")
    block = mlp(draft, "PhiMLP", act, "hidden_size", "intermediate_size", True, ("fc1", "fc2"))
    attn_part = [attention(options, "self_attn", "num_attention_heads", True, "input_layernorm", ["rope"],
                           probability(config, "attention_dropout", 0.0), num_kv_heads="num_key_value_heads",
                           head_dim=head_dim, rotary=True),
                 *dropout("resid_dropout", resid)]
    mlp_part = [{"name": "mlp", "type": block, "from": "input_layernorm"}, *dropout("mlp_resid_dropout", resid)]
    body = [layer_norm("input_layernorm", eps, "x"), *attn_part, *mlp_part,
            add("residual", last(attn_part), last(mlp_part), "x")]
    layer_block(draft, "PhiDecoderLayer", "x + attn(ln(x)) + mlp(ln(x))", body, ["rope"])

    embed = [{"name": "embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
              "from": "input_ids"}, *dropout("embed_dropout", probability(config, "embd_pdrop", 0.0))]
    draft.layers = [
        *embed,
        {"name": "rotary_emb", "type": "RotaryEmbedding", "dim": "rotary_ndims", "base": rope_theta(config),
         "from": "input_ids"},
        stack("layers", "PhiDecoderLayer", last(embed), ["rotary_emb"], "num_hidden_layers"),
        layer_norm("final_layernorm", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "embed_tokens", False, bias=True),
    ]
    return draft


def _partial_rotary(draft: Draft, config: HFConfig, head_dim: int) -> None:
    """Rotate only int(head_dim * partial_rotary_factor) dims (Phi-4-mini: 0.75): the rotary table's dim."""
    if rotary_factor(config, 1.0)[0] == 1.0:
        return
    draft.param("rotary_ndims", rotated_dims(config, head_dim, 1.0), "int(head_dim * partial_rotary_factor)")
    table = next(layer for layer in draft.layers if isinstance(layer, dict) and layer.get("name") == "rotary_emb")
    table["dim"] = "rotary_ndims"


def _dropout_note(config: HFConfig, keys: tuple[str, ...]) -> list[str]:
    """A note naming the dropouts the Llama-layout builder does not write (their masks are not in training memory)."""
    set_keys = [key for key in keys if probability(config, key, 0.0) > 0]
    if not set_keys:
        return []
    return [f"Dropout ({', '.join(set_keys)}) is not written: training memory leaves out its masks."]


@family("phi3")
def phi3(config: HFConfig, options: Options) -> Draft:
    """Phi3Config: Llama's layout with qkv_proj and gate_up_proj fused (the same counts), no biases, eps
    1e-5, sliding_window on every layer when set; partial_rotary_factor (Phi-4-mini) rotates part of each head."""
    config = with_defaults(config, {"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
                                    "num_hidden_layers": 32, "num_attention_heads": 32})
    notes = ["qkv_proj and gate_up_proj are written as separate q/k/v and gate/up projections (the same counts)."]
    draft = build_decoder(config, options, DecoderArch(
        "Phi-3: grouped-query attention (sliding window when set), rotary positions, pre-RMSNorm, SwiGLU MLP.",
        eps_default=1e-5, notes=notes + _dropout_note(config, ("resid_pdrop", "embd_pdrop", "attention_dropout")),
    ))
    _partial_rotary(draft, config, _head_dim(config, config.int("hidden_size"), config.int("num_attention_heads")))
    return draft


def _full_attention(config: HFConfig, layers: int) -> tuple[list[str], int]:
    """Every layer full: Olmo2Config has no sliding window."""
    return [FULL] * layers, 0


@family("olmo2")
def olmo2(config: HFConfig, options: Options) -> Draft:
    """Olmo2Config: RMSNorm after attention and after the MLP (none before), RMSNorm of all queries and of
    all keys, attention_bias default false, eps 1e-5, untied."""
    config = with_defaults(config, {"vocab_size": 50304, "hidden_size": 4096, "intermediate_size": 11008,
                                    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048})
    bias = config.bool("attention_bias", False)
    return build_decoder(config, options, DecoderArch(
        "OLMo 2: RMSNorm after attention and MLP, q/k RMSNorm over all heads, rotary positions, SwiGLU MLP.",
        qkv_bias=bias, out_bias=bias, qk_norm="full", post_norms_only=True, eps_default=1e-5,
        attention_layers=_full_attention, notes=_dropout_note(config, ("attention_dropout",)),
    ))
