"""Encoder-decoder families: t5 (relative position bias, pre-RMSNorm, unscaled attention), bart
(learned positions, post-LayerNorm) and whisper (a convolutional audio front end, pre-LayerNorm);
transformers 5.24.0 config defaults.

Each spec has the encoder's length L and the decoder's length T (its decode_length: a decode
step binds T to 1); Whisper's L is the mel frames.
"""

from __future__ import annotations

from typing import Any, Callable

from archspec.importers.draft import Block, Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.layout import Chain, attention, class_note, dropout_rate, model_class
from archspec.importers.hf.parts import ACTIVATIONS, activation, header, layer_norm, rms_norm

T5_CLASSES = ("T5ForConditionalGeneration", "T5Model", "T5EncoderModel")
BART_CLASSES = ("BartForConditionalGeneration", "BartModel")
WHISPER_CLASSES = ("WhisperForConditionalGeneration", "WhisperModel")

Norm = Callable[[str], dict[str, Any]]
Core = Callable[[Chain, str], None]  # adds a sublayer's layers, the first reading the given input


def sublayer(body: Chain, name: str, x: str, core: Core, norm: Norm, norm_name: str, pre_norm: bool, rate: float) -> str:
    """x + dropout(core(norm(x))) (pre-norm), or norm(x + dropout(core(x))) (post-norm); returns its output."""
    source = body.add({**norm(norm_name), "from": x}) if pre_norm else x
    core(body, source)
    body.dropout(f"{name}_dropout", rate)
    out = body.residual(f"{name}_residual", x)
    return out if pre_norm else body.add(norm(norm_name))


def attention_core(name: str, fields: dict[str, Any], options: Options, extra_inputs: tuple[str, ...] = ()) -> Core:
    """An attention layer reading its input (and `extra_inputs`: the encoder's output, a score bias)."""

    def core(body: Chain, source: str) -> None:
        body.add({**attention(name, options, **fields), "from": [source, *extra_inputs] if extra_inputs else source})

    return core


def feed_forward(inner: str, act: dict[str, Any], rate: float) -> Core:
    """fc2(activation_dropout(act(fc1(x)))), back to d_model."""

    def core(body: Chain, source: str) -> None:
        body.add({"name": "fc1", "type": "Linear", "out_features": inner, "from": source})
        body.add(act)
        body.dropout("activation_dropout", rate)
        body.add({"name": "fc2", "type": "Linear", "out_features": "d_model"})

    return core


def attention_fields(heads: str, rate: float, **extra: Any) -> dict[str, Any]:
    """An attention's fields: its heads, the weights' dropout rate, the rest."""
    return {"num_heads": heads, "dropout": rate, **extra}


def stack_params(draft: Draft, config: HFConfig, d_model: int, layers: int, heads: int, ffn: int) -> None:
    """{encoder,decoder}_layers, _attention_heads (dividing d_model) and _ffn_dim, with the config class's defaults."""
    for stack in ("encoder", "decoder"):
        draft.param(f"{stack}_layers", config.int(f"{stack}_layers", layers))
        key = f"{stack}_attention_heads"
        count = config.int(key, heads)
        if d_model % count:
            raise config.error(f"does not divide d_model {d_model}", key)
        draft.param(key, count)
        draft.param(f"{stack}_ffn_dim", config.int(f"{stack}_ffn_dim", ffn))


def seq2seq_params(draft: Draft, encoder_length: int, encoder_note: str, decoder_length: int | None, decoder_note: str) -> None:
    """B, the encoder's L and (with a decoder) the decoder's T, its decode length."""
    draft.param("B", 1, "batch")
    draft.param("L", encoder_length, encoder_note)
    if decoder_length is not None:
        draft.param("T", decoder_length, decoder_note)
        draft.decode_length = "T"


# --- T5 ----------------------------------------------------------------------------------------


@family("t5")
def t5(config: HFConfig, options: Options) -> Draft:
    """T5Config; the class from architectures (no key: T5ForConditionalGeneration)."""
    built = model_class(config, T5_CLASSES, "T5ForConditionalGeneration")
    gated, act_name = t5_feed_forward(config)
    description = ("T5: relative position bias, unscaled attention without biases, pre-RMSNorm (weight only), "
                   + ("gated " if gated else "") + f"{act_name} MLP.")
    # T5Config pops tie_word_embeddings into scale_decoder_outputs and then ties the head always
    scale = config.bool("scale_decoder_outputs", config.data.get("tie_word_embeddings") is not False)
    decoder = built != "T5EncoderModel"
    notes = [class_note(config, built)]
    if decoder:
        notes.append("HF adds a zero position bias to the cross-attention scores; left out (adds of zeros).")
    if built == "T5ForConditionalGeneration":
        notes += ["Decoder outputs scaled by d_model ** -0.5 before the LM head." if scale else
                  "Decoder outputs not scaled before the LM head (scale_decoder_outputs false: a T5 v1.1 checkpoint).",
                  "The LM head is tied to the shared embedding: transformers 5's T5Config sets tie_word_embeddings "
                  "always (its value in config.json only picks the scaling)."]
    draft = Draft(name=config.model_type, description=description, header=header(config, description, notes))
    t5_params(draft, config, decoder)
    eps = config.float("layer_norm_epsilon", 1e-6)
    rate = dropout_rate(config, "dropout_rate", 0.1)
    t5_blocks(draft, options, gated, act_name, eps, rate, decoder)
    top = Chain()
    top.add({"name": "shared", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "d_model",
             "from": "input_ids"})
    encoder = t5_stack(top, "encoder", "shared", [], "num_layers", eps, rate)
    if decoder:
        top.add({"name": "decoder_embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size",
                 "embedding_dim": "d_model", "shares": "shared", "from": "decoder_input_ids"})
        t5_stack(top, "decoder", "decoder_embed_tokens", [encoder], "num_decoder_layers", eps, rate)
    if built == "T5ForConditionalGeneration":
        if scale:
            top.add({"name": "scale_decoder_outputs", "type": "Mul", "other": "d_model ** -0.5"})
        top.add({"name": "lm_head", "type": "Linear", "out_features": "vocab_size", "bias": False, "shares": "shared"})
    draft.layers = top.entries
    return draft


def t5_params(draft: Draft, config: HFConfig, decoder: bool) -> None:
    """Sizes named after T5Config's keys, with its defaults; the inputs."""
    seq2seq_params(draft, 512, "encoder length (T5's relative positions set no maximum)",
                   512 if decoder else None, "decoder length")
    draft.param("vocab_size", config.int("vocab_size", 32128))
    draft.param("d_model", config.int("d_model", 512))
    draft.param("d_kv", config.int("d_kv", 64))
    draft.param("d_ff", config.int("d_ff", 2048))
    draft.param("num_layers", config.int("num_layers", 6))
    if decoder:
        draft.param("num_decoder_layers", config.int("num_decoder_layers", config.int("num_layers", 6)))
    draft.param("num_heads", config.int("num_heads", 8))
    draft.param("relative_attention_num_buckets", config.int("relative_attention_num_buckets", 32))
    draft.param("relative_attention_max_distance", config.int("relative_attention_max_distance", 128))
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}
    if decoder:
        draft.inputs["decoder_input_ids"] = {"shape": ["B", "T"], "dtype": "int64"}


def t5_feed_forward(config: HFConfig) -> tuple[bool, str]:
    """Gated or not, and the activation: from feed_forward_proj ('relu', 'gated-gelu', ...), unless a
    saved 5.x config.json also holds is_gated_act / dense_act_fn, which T5Config lets win."""
    proj = config.str("feed_forward_proj", "relu")
    pieces = proj.split("-")
    if len(pieces) > 2 or (len(pieces) == 2 and pieces[0] != "gated"):
        raise config.error(f"= {proj!r}: expected 'ACT' or 'gated-ACT' (e.g. 'relu', 'gated-gelu')", "feed_forward_proj")
    gated = config.bool("is_gated_act", pieces[0] == "gated" and len(pieces) == 2)
    derived = "gelu_new" if proj == "gated-gelu" else pieces[-1]  # T5Config's backward-compatible spelling
    key = "dense_act_fn" if config.has("dense_act_fn") else "feed_forward_proj"
    act = config.str("dense_act_fn", derived)
    if act not in ACTIVATIONS:
        raise config.error(f"names the activation {act!r}, which the converter does not handle "
                           f"(it handles {', '.join(ACTIVATIONS)})", key)
    return gated, act


def t5_blocks(draft: Draft, options: Options, gated: bool, act_name: str, eps: float, rate: float, decoder: bool) -> None:
    """The feed-forward block and the encoder (and decoder) blocks."""
    act = {"name": "act", **ACTIVATIONS[act_name]}
    ff = "DenseGatedActDense" if gated else "DenseReluDense"
    body = Chain()
    if gated:  # wo(dropout(act(wi_0(x)) * wi_1(x)))
        body.add({"name": "wi_0", "type": "Linear", "out_features": "d_ff", "bias": False})
        body.add(act)
        body.add({"name": "wi_1", "type": "Linear", "out_features": "d_ff", "bias": False, "from": "input"})
        body.add({"name": "gated", "type": "Mul", "from": ["act", "wi_1"]})
    else:
        body.add({"name": "wi", "type": "Linear", "out_features": "d_ff", "bias": False})
        body.add(act)
    body.dropout("dropout", rate)
    body.add({"name": "wo", "type": "Linear", "out_features": "d_model", "bias": False})
    draft.blocks[ff] = Block(comment="wo(act(wi_0(x)) * wi_1(x))" if gated else "wo(act(wi(x)))", layers=body.entries)

    norm: Norm = lambda name: rms_norm(name, eps)  # noqa: E731  (T5LayerNorm: weight-only RMS, written out)
    unscaled = {"head_dim": "d_kv", "qkv_bias": False, "out_bias": False, "scale": 1}
    self_fields = attention_fields("num_heads", rate, **unscaled, score_bias=True)

    def ff_core(index: int) -> Core:
        return lambda chain, source: chain.add({"name": f"layer_{index}_{ff}", "type": ff, "from": source})

    enc = Chain()
    x = sublayer(enc, "layer_0", "x", attention_core("layer_0_SelfAttention", self_fields, options, ("position_bias",)),
                 norm, "layer_0_layer_norm", True, rate)
    sublayer(enc, "layer_1", x, ff_core(1), norm, "layer_1_layer_norm", True, rate)
    draft.blocks["T5EncoderBlock"] = Block(comment="x + attn(norm(x), bias), then + ff(norm(.))",
                                           inputs=["x", "position_bias"], layers=enc.entries)
    if not decoder:
        return
    dec = Chain()
    x = sublayer(dec, "layer_0", "x", attention_core("layer_0_SelfAttention", {**self_fields, "causal": True}, options,
                                                     ("position_bias",)), norm, "layer_0_layer_norm", True, rate)
    cross = attention_fields("num_heads", rate, **unscaled)
    x = sublayer(dec, "layer_1", x, attention_core("layer_1_EncDecAttention", cross, options, ("encoder_hidden_states",)),
                 norm, "layer_1_layer_norm", True, rate)
    sublayer(dec, "layer_2", x, ff_core(2), norm, "layer_2_layer_norm", True, rate)
    draft.blocks["T5DecoderBlock"] = Block(
        comment="x + causal attn(norm(x), bias), + attn(norm(.), encoder), + ff(norm(.))",
        inputs=["x", "encoder_hidden_states", "position_bias"], layers=dec.entries)


def t5_stack(top: Chain, stack: str, embedded: str, memory: list[str], layers: str, eps: float, rate: float) -> str:
    """A T5Stack: dropout, the relative position bias (computed by the first block, shared by all),
    the blocks, the final norm and dropout; returns its output."""
    decoder = bool(memory)
    top.dropout(f"{stack}_dropout", rate)
    hidden = top.last
    bias = top.add({"name": f"{stack}_relative_attention_bias", "type": "RelativePositionBias", "num_heads": "num_heads",
                    "num_buckets": "relative_attention_num_buckets", "max_distance": "relative_attention_max_distance",
                    **({"bidirectional": False} if decoder else {}), "from": embedded})
    block = "T5DecoderBlock" if decoder else "T5EncoderBlock"
    top.add({"name": f"{stack}_block", "type": block, "from": [hidden, *memory, bias], "repeat": layers})
    top.add(rms_norm(f"{stack}_final_layer_norm", eps))
    top.dropout(f"{stack}_final_dropout", rate)
    return top.last


# --- BART --------------------------------------------------------------------------------------


@family("bart")
def bart(config: HFConfig, options: Options) -> Draft:
    """BartConfig; the class from architectures (no key: BartForConditionalGeneration)."""
    built = model_class(config, BART_CLASSES, "BartForConditionalGeneration")
    refuse_mbart_keys(config)
    description = "BART: learned positions (offset 2), post-LayerNorm encoder and decoder, GELU MLP."
    draft = Draft(name=config.model_type, description=description,
                  header=header(config, description, [class_note(config, built)]))
    max_positions = config.int("max_position_embeddings", 1024)
    length = min(max_positions, 512)
    seq2seq_params(draft, length, f"encoder length (max_position_embeddings: {max_positions})",
                   length, f"decoder length (max_position_embeddings: {max_positions})")
    draft.param("vocab_size", config.int("vocab_size", 50265))
    d_model = config.int("d_model", 1024)
    draft.param("d_model", d_model)
    stack_params(draft, config, d_model, layers=12, heads=16, ffn=4096)
    draft.param("max_position_embeddings", max_positions)
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}
    draft.inputs["decoder_input_ids"] = {"shape": ["B", "T"], "dtype": "int64"}

    rates = {key: dropout_rate(config, key, default)
             for key, default in (("dropout", 0.1), ("attention_dropout", 0.0), ("activation_dropout", 0.0))}
    act = activation(config, "activation_function", "gelu", name="activation_fn")
    for stack in ("encoder", "decoder"):
        draft.blocks[f"Bart{stack.capitalize()}Layer"] = text_seq2seq_layer(stack, options, act, rates, pre_norm=False)
    tied = config.bool("tie_word_embeddings", True)
    scale = config.bool("scale_embedding", False)
    top = Chain()
    if not tied:
        top.comment("shared: the model's embedding, unread once the encoder and decoder have their own (untied)")
        top.add({"name": "shared", "type": "Parameter", "shape": ["vocab_size", "d_model"]})
    encoder = bart_stack(top, "encoder", "input_ids", "L", "shared" if tied else "encoder_embed_tokens", None, scale, rates)
    out = bart_stack(top, "decoder", "decoder_input_ids", "T", "decoder_embed_tokens", encoder, scale, rates,
                     shares="shared" if tied else None)
    if built == "BartForConditionalGeneration":
        head = {"name": "lm_head", "type": "Linear", "out_features": "vocab_size", "bias": False, "from": out}
        top.add({**head, "shares": "shared"} if tied else head)
        top.add({"name": "final_logits_bias", "type": "Buffer", "shape": [1, "vocab_size"]})
        top.add({"name": "logits", "type": "Add", "from": ["lm_head", "final_logits_bias"]})
    draft.layers = top.entries
    return draft


def refuse_mbart_keys(config: HFConfig) -> None:
    """mBART-era keys BartModel ignores: a config setting them describes a model transformers 5 does not build."""
    why = "transformers 5's BART ignores it and builds another model than the checkpoint's"
    config.refuse("normalize_before", False, why)
    config.refuse("add_final_layer_norm", False, why)
    config.refuse("add_bias_logits", False, why)
    config.refuse("normalize_embedding", True, why)


def bart_stack(top: Chain, stack: str, ids: str, length: str, embed: str, memory: str | None, scale: bool,
               rates: dict[str, float], shares: str | None = None) -> str:
    """Token embedding (scaled with scale_embedding), learned positions from row 2 on, layernorm_embedding,
    dropout, the layers; returns the last layer's output."""
    table = {"name": embed, "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "d_model", "from": ids}
    tokens = top.add({**table, "shares": shares} if shares else table)
    if scale:
        tokens = top.add({"name": f"{stack}_embed_scale", "type": "Mul", "other": "d_model ** 0.5"})
    top.add({"name": f"{stack}_embed_positions", "type": "Parameter", "shape": ["max_position_embeddings + 2", "d_model"]})
    positions = top.add({"name": f"{stack}_positions", "type": "Slice", "dim": 0, "start": 2, "end": f"{length} + 2"})
    top.add({"name": f"{stack}_embeddings", "type": "Add", "from": [tokens, positions]})
    top.add(layer_norm(f"{stack}_layernorm_embedding", 1e-5))
    top.dropout(f"{stack}_dropout", rates["dropout"])
    hidden = top.last
    layer = f"Bart{stack.capitalize()}Layer"
    return top.add({"name": f"{stack}_layers", "type": layer, "from": [hidden, memory] if memory else hidden,
                    "repeat": f"{stack}_layers"})


def text_seq2seq_layer(stack: str, options: Options, act: dict[str, Any], rates: dict[str, float], pre_norm: bool,
                       k_bias: bool = True) -> Block:
    """A BART (post-norm) or Whisper (pre-norm) layer: self-attention (causal in the decoder), the
    decoder's cross-attention over the encoder's output, the MLP; LayerNorms of eps 1e-5."""
    decoder = stack == "decoder"
    heads = f"{stack}_attention_heads"
    keys = {} if k_bias else {"k_bias": False}
    norm: Norm = lambda name: layer_norm(name, 1e-5)  # noqa: E731  (nn.LayerNorm's default eps)
    x = "x" if decoder else "input"
    body = Chain(None if decoder else "input")
    fields = attention_fields(heads, rates["attention_dropout"], **keys, **({"causal": True} if decoder else {}))
    x = sublayer(body, "self_attn", x, attention_core("self_attn", fields, options), norm, "self_attn_layer_norm",
                 pre_norm, rates["dropout"])
    if decoder:
        cross = attention_fields(heads, rates["attention_dropout"], **keys)
        x = sublayer(body, "encoder_attn", x, attention_core("encoder_attn", cross, options, ("encoder_hidden_states",)),
                     norm, "encoder_attn_layer_norm", pre_norm, rates["dropout"])
    mlp = feed_forward(f"{stack}_ffn_dim", act, rates["activation_dropout"])
    sublayer(body, "ffn", x, mlp, norm, "final_layer_norm", pre_norm, rates["dropout"])
    shape = "x + f(norm(x))" if pre_norm else "norm(x + f(x))"
    parts = "self-attention" + (" (causal), cross-attention over the encoder" if decoder else "") + ", MLP"
    return Block(comment=f"{shape} for f: {parts}", inputs=["x", "encoder_hidden_states"] if decoder else None,
                 layers=body.entries)


# --- Whisper -----------------------------------------------------------------------------------


@family("whisper")
def whisper(config: HFConfig, options: Options) -> Draft:
    """WhisperConfig; the class from architectures (no key: WhisperForConditionalGeneration)."""
    built = model_class(config, WHISPER_CLASSES, "WhisperForConditionalGeneration")
    description = ("Whisper: two convolutions over log-mel frames, a fixed sinusoidal position table, pre-LayerNorm "
                   "encoder and decoder (no key bias), GELU MLP.")
    notes = [class_note(config, built),
             "The encoder's position table is a parameter HF does not train (requires_grad false); "
             "scale_embedding is read by no 5.x Whisper module."]
    draft = Draft(name=config.model_type, description=description, header=header(config, description, notes))
    sources = config.int("max_source_positions", 1500)
    targets = config.int("max_target_positions", 448)
    seq2seq_params(draft, 2 * sources, "mel frames: exactly 2 * max_source_positions, as HF requires",
                   targets, f"decoder length (max_target_positions: {targets})")
    draft.param("num_mel_bins", config.int("num_mel_bins", 80))
    draft.param("vocab_size", config.int("vocab_size", 51865))
    d_model = config.int("d_model", 384)
    draft.param("d_model", d_model)
    stack_params(draft, config, d_model, layers=4, heads=6, ffn=1536)
    draft.param("max_source_positions", sources)
    draft.param("max_target_positions", targets)
    draft.inputs["input_features"] = {"shape": ["B", "num_mel_bins", "L"]}
    draft.inputs["decoder_input_ids"] = {"shape": ["B", "T"], "dtype": "int64"}
    draft.inputs["decoder_position_ids"] = {"shape": ["B", "T"], "dtype": "int64"}  # 0 .. T-1 per sequence, as HF makes them

    rates = {key: dropout_rate(config, key, 0.0) for key in ("dropout", "attention_dropout", "activation_dropout")}
    act = activation(config, "activation_function", "gelu", name="activation_fn")
    for stack in ("encoder", "decoder"):
        draft.blocks[f"Whisper{stack.capitalize()}Layer"] = text_seq2seq_layer(stack, options, act, rates, pre_norm=True,
                                                                               k_bias=False)
    top = Chain()
    encoder = whisper_encoder(top, rates["dropout"])
    top.add({"name": "decoder_embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "d_model",
             "from": "decoder_input_ids"})
    top.add({"name": "decoder_embed_positions", "type": "Embedding", "num_embeddings": "max_target_positions",
             "embedding_dim": "d_model", "from": "decoder_position_ids"})
    top.add({"name": "decoder_embeddings", "type": "Add", "from": ["decoder_embed_tokens", "decoder_embed_positions"]})
    top.dropout("decoder_dropout", rates["dropout"])
    top.add({"name": "decoder_layers", "type": "WhisperDecoderLayer", "from": [top.last, encoder], "repeat": "decoder_layers"})
    top.add(layer_norm("decoder_layer_norm", 1e-5))
    if built == "WhisperForConditionalGeneration":
        head = {"name": "proj_out", "type": "Linear", "out_features": "vocab_size", "bias": False}
        top.add({**head, "shares": "decoder_embed_tokens"} if config.bool("tie_word_embeddings", True) else head)
    draft.layers = top.entries
    return draft


def whisper_encoder(top: Chain, rate: float) -> str:
    """conv1 + GELU, conv2 (stride 2) + GELU, the position table, the layers, the final norm; returns its output."""
    top.add({"name": "conv1", "type": "Conv1d", "out_channels": "d_model", "kernel_size": 3, "padding": 1,
             "from": "input_features"})
    top.add({"name": "conv1_gelu", **ACTIVATIONS["gelu"]})  # nn.functional.gelu, whatever activation_function says
    top.add({"name": "conv2", "type": "Conv1d", "out_channels": "d_model", "kernel_size": 3, "stride": 2, "padding": 1})
    top.add({"name": "conv2_gelu", **ACTIVATIONS["gelu"]})
    frames = top.add({"name": "to_sequence", "type": "Permute", "dims": [0, 2, 1]})
    top.add({"name": "encoder_embed_positions", "type": "Parameter", "shape": ["max_source_positions", "d_model"]})
    top.add({"name": "encoder_embeddings", "type": "Add", "from": [frames, "encoder_embed_positions"]})
    top.dropout("encoder_dropout", rate)
    top.add({"name": "encoder_layers", "type": "WhisperEncoderLayer", "repeat": "encoder_layers"})
    return top.add(layer_norm("encoder_layer_norm", 1e-5))
