"""Encoder families: bert and roberta (post-LayerNorm text encoders with learned absolute
positions) and vit (a pre-LayerNorm image encoder over patches and a [CLS] token); transformers
5.24.0 config defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from archspec.importers.draft import Block, Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.layout import Chain, attention, class_note, dropout_rate, model_class, num_labels
from archspec.importers.hf.parts import ACTIVATIONS, activation, header, layer_norm

BERT_CLASSES = ("BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification")
ROBERTA_CLASSES = ("RobertaModel", "RobertaForMaskedLM", "RobertaForSequenceClassification")
VIT_CLASSES = ("ViTModel", "ViTForImageClassification")


@dataclass
class TextEncoder:
    """What BERT and RoBERTa differ by: names, config defaults, where positions start, the MLM head."""

    prefix: str  # Bert / Roberta: the module name prefix (BertLayer, ...)
    description: str
    vocab_default: int
    pad_default: int
    positions_from_padding: bool  # RoBERTa: position ids start at pad_token_id + 1
    mlm_names: tuple[str, str, str, str]  # dense, activation, norm, decoder
    mlm_bias: str  # the head's own bias parameter (unused when the decoder is untied)
    mlm_act_key: str | None  # BERT: hidden_act; RoBERTa: a fixed exact GELU
    notes: list[str] = field(default_factory=list)


BERT = TextEncoder(
    "Bert", "BERT: learned absolute positions and token types, post-LayerNorm encoder, GELU MLP.", 30522, 0, False,
    ("cls_predictions_transform_dense", "cls_predictions_transform_act_fn", "cls_predictions_transform_LayerNorm",
     "cls_predictions_decoder"), "cls_predictions_bias", "hidden_act",
)
ROBERTA = TextEncoder(
    "Roberta", "RoBERTa: BERT's encoder with positions counted from pad_token_id + 1.", 50265, 1, True,
    ("lm_head_dense", "lm_head_gelu", "lm_head_layer_norm", "lm_head_decoder"), "lm_head_bias", None,
    notes=["Positions pad_token_id + 1 .. pad_token_id + L (no padding in the input), so L is at most "
           "max_position_embeddings - pad_token_id - 1."],
)


@family("bert")
def bert(config: HFConfig, options: Options) -> Draft:
    """BertConfig; the class from architectures (no key: BertModel, the bare encoder with its pooler)."""
    return text_encoder(config, options, BERT, model_class(config, BERT_CLASSES, "BertModel"))


@family("roberta")
def roberta(config: HFConfig, options: Options) -> Draft:
    """RobertaConfig; the class from architectures (no key: RobertaModel, the bare encoder with its pooler)."""
    return text_encoder(config, options, ROBERTA, model_class(config, ROBERTA_CLASSES, "RobertaModel"))


def refuse_text_decoder(config: HFConfig) -> None:
    """Keys that would make another model than the bidirectional encoder built here."""
    config.refuse("position_embedding_type", "absolute",
                  "relative position embeddings (distance_embedding per layer) are gone from transformers 5, which "
                  "builds absolute positions whatever this key says, unlike the checkpoint's model")
    config.refuse("is_decoder", False, "a causal decoder (BertLMHeadModel-style) is not built")
    config.refuse("add_cross_attention", False, "cross-attention layers over an encoder's output are not built")


def text_encoder(config: HFConfig, options: Options, arch: TextEncoder, built: str) -> Draft:
    """Embeddings, the post-LayerNorm layer stack, and the head of `built`."""
    refuse_text_decoder(config)
    hidden = config.int("hidden_size", 768)
    heads = config.int("num_attention_heads", 12)
    if hidden % heads:
        raise config.error(f"does not divide hidden_size {hidden}", "num_attention_heads")
    eps = config.float("layer_norm_eps", 1e-12)
    max_positions = config.int("max_position_embeddings", 512)
    offset = config.int("pad_token_id", arch.pad_default, minimum=0) + 1 if arch.positions_from_padding else 0
    if max_positions <= offset:
        raise config.error(f"leaves no positions after the first {offset}", "max_position_embeddings")

    draft = Draft(name=config.model_type, description=arch.description,
                  header=header(config, arch.description, [class_note(config, built), *arch.notes]))
    draft.param("B", 1, "batch")
    draft.param("L", min(max_positions - offset, 512), f"sequence length (max_position_embeddings: {max_positions})")
    draft.param("vocab_size", config.int("vocab_size", arch.vocab_default))
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 12))
    draft.param("num_attention_heads", heads)
    draft.param("intermediate_size", config.int("intermediate_size", 3072))
    draft.param("max_position_embeddings", max_positions)
    draft.param("type_vocab_size", config.int("type_vocab_size", 2))
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}
    draft.inputs["token_type_ids"] = {"shape": ["B", "L"], "dtype": "int64"}  # HF's default: all zeros

    hidden_drop = dropout_rate(config, "hidden_dropout_prob", 0.1)
    layer = f"{arch.prefix}Layer"
    draft.blocks[layer] = text_layer(config, options, eps, hidden_drop)
    top = Chain()
    top.add({"name": "word_embeddings", "type": "Embedding", "num_embeddings": "vocab_size",
             "embedding_dim": "hidden_size", "from": "input_ids"})
    top.add({"name": "token_type_embeddings", "type": "Embedding", "num_embeddings": "type_vocab_size",
             "embedding_dim": "hidden_size", "from": "token_type_ids"})
    top.comment("position_embeddings: the table's rows for positions " + (f"{offset} .. L + {offset - 1}" if offset else "0 .. L - 1"))
    top.add({"name": "position_embeddings", "type": "Parameter", "shape": ["max_position_embeddings", "hidden_size"]})
    top.add({"name": "positions", "type": "Slice", "dim": 0, **({"start": offset, "end": f"L + {offset}"} if offset else {"end": "L"})})
    top.add({"name": "embeddings", "type": "Add", "from": ["word_embeddings", "token_type_embeddings", "positions"]})
    top.add(layer_norm("embeddings_LayerNorm", eps))
    top.dropout("embeddings_dropout", hidden_drop)
    encoder = top.add({"name": "encoder_layer", "type": layer, "repeat": "num_hidden_layers"})
    draft.outputs = text_head(draft, config, arch, built, top, encoder, eps, hidden_drop)
    draft.layers = top.entries
    return draft


def text_layer(config: HFConfig, options: Options, eps: float, hidden_drop: float) -> Block:
    """LayerNorm(x + attention(x)), then LayerNorm(. + output_dense(act(intermediate_dense(.))))."""
    body = Chain()
    body.add(attention("attention", options, num_heads="num_attention_heads",
                       dropout=dropout_rate(config, "attention_probs_dropout_prob", 0.1)))
    body.dropout("attention_dropout", hidden_drop)
    body.residual("attention_residual", "input")
    body.add(layer_norm("attention_LayerNorm", eps))
    body.add({"name": "intermediate_dense", "type": "Linear", "out_features": "intermediate_size"})
    body.add(activation(config, "hidden_act", "gelu", name="intermediate_act_fn"))
    body.add({"name": "output_dense", "type": "Linear", "out_features": "hidden_size"})
    body.dropout("output_dropout", hidden_drop)
    body.residual("output_residual", "attention_LayerNorm")
    body.add(layer_norm("output_LayerNorm", eps))
    return Block(comment="LayerNorm(x + attention(x)), then LayerNorm(. + output(act(intermediate(.))))",
                 layers=body.entries)


def text_head(draft: Draft, config: HFConfig, arch: TextEncoder, built: str, top: Chain, encoder: str,
              eps: float, hidden_drop: float) -> list[str] | None:
    """The layers `built` adds after the encoder; returns the spec's outputs when there are several."""
    if built.endswith("Model"):
        return [encoder, pooler(top, encoder)]
    if built.endswith("MaskedLM"):
        mlm_head(config, arch, top, encoder, eps)
        return None
    if built.endswith("PreTraining"):
        scores = mlm_head(config, arch, top, encoder, eps)
        top.add({"name": "cls_seq_relationship", "type": "Linear", "out_features": 2, "from": pooler(top, encoder)})
        return [scores, "cls_seq_relationship"]
    draft.param("num_labels", num_labels(config), "classifier outputs (id2label entries)")
    classifier_drop = dropout_rate(config, "classifier_dropout", hidden_drop)  # null: hidden_dropout_prob
    if arch.prefix == "Bert":  # BertForSequenceClassification: a classifier on the pooler's output
        pooler(top, encoder)
        top.dropout("dropout", classifier_drop)
        top.add({"name": "classifier", "type": "Linear", "out_features": "num_labels"})
        return None
    # RobertaClassificationHead: dense + tanh on the first token, no pooler
    top.add({"name": "classifier_first_token", "type": "Index", "dim": 1, "index": 0, "from": encoder})
    top.dropout("classifier_dropout_0", classifier_drop)
    top.add({"name": "classifier_dense", "type": "Linear", "out_features": "hidden_size"})
    top.add({"name": "classifier_tanh", "type": "Tanh"})
    top.dropout("classifier_dropout_1", classifier_drop)
    top.add({"name": "classifier_out_proj", "type": "Linear", "out_features": "num_labels"})
    return None


def pooler(top: Chain, encoder: str) -> str:
    """dense + tanh on the first token ([CLS]); returns its output's name."""
    top.add({"name": "pooler_first_token", "type": "Index", "dim": 1, "index": 0, "from": encoder})
    top.add({"name": "pooler_dense", "type": "Linear", "out_features": "hidden_size"})
    return top.add({"name": "pooler_activation", "type": "Tanh"})


def mlm_head(config: HFConfig, arch: TextEncoder, top: Chain, encoder: str, eps: float) -> str:
    """dense + activation + LayerNorm, then the vocabulary projection: tied to the word embeddings
    (tie_word_embeddings, default true) with the head's own bias; returns its name."""
    dense, act, norm, decoder = arch.mlm_names
    top.add({"name": dense, "type": "Linear", "out_features": "hidden_size", "from": encoder})
    if arch.mlm_act_key:
        top.add(activation(config, arch.mlm_act_key, "gelu", name=act))
    else:
        top.add({"name": act, **ACTIVATIONS["gelu"]})  # RobertaLMHead calls the exact gelu whatever hidden_act says
    top.add(layer_norm(norm, eps))
    projection = {"name": decoder, "type": "Linear", "out_features": "vocab_size", "bias": True}
    if config.bool("tie_word_embeddings", True):
        return top.add({**projection, "shares": "word_embeddings"})
    # untied, the decoder has its own bias, and the head's bias parameter stays in the model unread
    top.comment(f"{arch.mlm_bias}: a parameter HF keeps but does not read once the decoder is untied")
    top.add({"name": arch.mlm_bias, "type": "Parameter", "shape": ["vocab_size"]})
    return top.add({**projection, "from": norm})


# --- ViT ---------------------------------------------------------------------------------------


@family("vit")
def vit(config: HFConfig, options: Options) -> Draft:
    """ViTConfig; the class from architectures (no key: ViTModel, the bare encoder with its pooler)."""
    built = model_class(config, VIT_CLASSES, "ViTModel")
    description = "ViT: patch embedding by a strided convolution, [CLS] token, learned positions, pre-LayerNorm encoder."
    draft = Draft(name=config.model_type, description=description,
                  header=header(config, description, [class_note(config, built)]))
    hidden = config.int("hidden_size", 768)
    heads = config.int("num_attention_heads", 12)
    eps = config.float("layer_norm_eps", 1e-12)
    draft.param("B", 1, "batch")
    image = _pair_params(draft, config, "image_size", 224, ("image_height", "image_width"))
    patch = _pair_params(draft, config, "patch_size", 16, ("patch_height", "patch_width"))
    draft.param("num_channels", config.int("num_channels", 3))
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 12))
    draft.param("num_attention_heads", heads)
    if config.has("head_dim"):  # ViTAttention reads it when the config has one
        draft.param("head_dim", config.int("head_dim"))
    else:
        draft.param("head_dim", "hidden_size // num_attention_heads")
    draft.param("intermediate_size", config.int("intermediate_size", 3072))
    patches = f"({image[0]} // {patch[0]}) ** 2" if image[0] == image[1] and patch[0] == patch[1] else \
        f"({image[0]} // {patch[0]}) * ({image[1]} // {patch[1]})"
    draft.param("seq_length", f"{patches} + 1", "patches plus the [CLS] token")
    draft.inputs["pixel_values"] = {"shape": ["B", "num_channels", *image]}

    hidden_drop = dropout_rate(config, "hidden_dropout_prob", 0.0)
    draft.blocks["ViTLayer"] = vit_layer(config, options, eps, hidden_drop)
    top = Chain()
    kernel = patch[0] if patch[0] == patch[1] else list(patch)
    top.add({"name": "patch_embeddings_projection", "type": "Conv2d", "out_channels": "hidden_size",
             "kernel_size": kernel, "stride": kernel, "from": "pixel_values"})
    top.add({"name": "patches", "type": "Flatten", "start_dim": 2})
    top.add({"name": "patch_tokens", "type": "Transpose", "dim0": 1, "dim1": 2})
    top.add({"name": "cls_token", "type": "Parameter", "shape": [1, 1, "hidden_size"]})
    top.add({"name": "cls_tokens", "type": "Expand", "sizes": ["B", -1, -1]})
    top.add({"name": "tokens", "type": "Concat", "from": ["cls_tokens", "patch_tokens"], "dim": 1})
    top.add({"name": "position_embeddings", "type": "Parameter", "shape": [1, "seq_length", "hidden_size"]})
    top.add({"name": "embeddings", "type": "Add", "from": ["tokens", "position_embeddings"]})
    top.dropout("embeddings_dropout", hidden_drop)
    top.add({"name": "layers", "type": "ViTLayer", "repeat": "num_hidden_layers"})
    encoder = top.add(layer_norm("layernorm", eps))
    if built == "ViTModel":
        draft.param("pooler_output_size", config.int("pooler_output_size", hidden))
        top.add({"name": "pooler_first_token", "type": "Index", "dim": 1, "index": 0, "from": encoder})
        top.add({"name": "pooler_dense", "type": "Linear", "out_features": "pooler_output_size"})
        top.add(activation(config, "pooler_act", "tanh", name="pooler_activation"))
        draft.outputs = [encoder, "pooler_activation"]
    else:
        top.add({"name": "cls_output", "type": "Index", "dim": 1, "index": 0, "from": encoder})
        labels = num_labels(config)
        if labels:  # num_labels 0: an Identity classifier
            draft.param("num_labels", labels, "classifier outputs (id2label entries)")
            top.add({"name": "classifier", "type": "Linear", "out_features": "num_labels"})
    draft.layers = top.entries
    return draft


def _pair_params(draft: Draft, config: HFConfig, key: str, default: int, names: tuple[str, str]) -> tuple[str, str]:
    """An int-or-pair size key as params: one param when square, else one per dim; returns (height, width) names."""
    value = config.raw(key, default)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        height, width = value
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        height = width = value
    else:
        raise config.error(f"expected a positive integer or a pair of them, found {value!r}", key)
    if height == width:
        draft.param(key, height)
        return key, key
    draft.param(names[0], height, f"{key}[0]")
    draft.param(names[1], width, f"{key}[1]")
    return names


def vit_layer(config: HFConfig, options: Options, eps: float, hidden_drop: float) -> Block:
    """x + attention(layernorm_before(x)), then + mlp(layernorm_after(.))."""
    body = Chain()
    body.add(layer_norm("layernorm_before", eps))
    body.add(attention("attention", options, num_heads="num_attention_heads", head_dim="head_dim",
                       qkv_bias=config.bool("qkv_bias", True), out_bias=True,
                       dropout=dropout_rate(config, "attention_probs_dropout_prob", 0.0)))
    body.dropout("attention_dropout", hidden_drop)
    body.residual("attention_residual", "input")
    body.add(layer_norm("layernorm_after", eps))
    body.add({"name": "mlp_fc1", "type": "Linear", "out_features": "intermediate_size"})
    body.add(activation(config, "hidden_act", "gelu", name="mlp_activation_fn"))
    body.add({"name": "mlp_fc2", "type": "Linear", "out_features": "hidden_size"})
    body.dropout("mlp_dropout", hidden_drop)
    body.residual("mlp_residual", "attention_residual")
    return Block(comment="x + attention(layernorm_before(x)), then + mlp(layernorm_after(.))", layers=body.entries)

