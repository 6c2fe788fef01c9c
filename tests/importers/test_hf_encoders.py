"""The encoder (bert, roberta, vit) and encoder-decoder (t5, bart, whisper) importers: refused keys,
the classes and keys beyond tests/importers/test_hf.py's instances against transformers itself
(tests/reference/hf_encoder_variants_measured.json, made by measure_hf_encoder_variants.py), and
round trips against the hand-written zoo specs of the same models."""

import json
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError
from archspec.importers import import_spec
from archspec.memory import MemoryOptions, memory

REFERENCE = Path(__file__).parent.parent / "reference"
SPECS = Path(__file__).parent.parent.parent / "specs"
CONFIGS = REFERENCE / "hf_configs"
FAMILIES = json.loads((REFERENCE / "hf_families_measured.json").read_text())["families"]
VARIANTS = json.loads((REFERENCE / "hf_encoder_variants_measured.json").read_text())["variants"]


def config(family: str, size: str = "_small", **changes) -> dict:
    data = json.loads((CONFIGS / f"{family}{size}.json").read_text())
    data.update(changes)
    return data


def small_bindings(family: str, model_class: str) -> dict:
    """The sizes the small instances ran at: B 2, L 16 (Whisper: 32 mel frames; ViT: the config's image), T 8."""
    bindings = {"B": 2}
    if family != "vit":
        bindings["L"] = 32 if family == "whisper" else 16
    if family in ("t5", "bart", "whisper") and model_class != "T5EncoderModel":
        bindings["T"] = 8
    return bindings


def kv_cache(text: str, **bindings) -> int:
    report = archspec.analyze(text, **bindings)
    return memory(report, MemoryOptions(training=False, dtype="fp32")).totals["kv_cache"]


# --- keys the converter refuses --------------------------------------------------------------------

REFUSED = [
    ("bert", "position_embedding_type", "relative_key"),
    ("bert", "is_decoder", True),
    ("bert", "add_cross_attention", True),
    ("bert", "hidden_act", "quick_gelu"),
    ("bert", "architectures", ["BertForQuestionAnswering"]),
    ("roberta", "position_embedding_type", "relative_key_query"),
    ("roberta", "max_position_embeddings", 2),
    ("roberta", "architectures", ["RobertaForCausalLM"]),
    ("vit", "image_size", "large"),
    ("vit", "architectures", ["ViTForMaskedImageModeling"]),
    ("t5", "feed_forward_proj", "gelu-gated"),
    ("t5", "dense_act_fn", "quick_gelu"),
    ("t5", "architectures", ["T5ForSequenceClassification"]),
    ("bart", "normalize_before", True),
    ("bart", "add_final_layer_norm", True),
    ("bart", "add_bias_logits", True),
    ("bart", "normalize_embedding", False),
    ("bart", "encoder_attention_heads", 5),
    ("bart", "activation_function", "quick_gelu"),
    ("bart", "architectures", ["BartForSequenceClassification"]),
    ("whisper", "decoder_attention_heads", 3),
    ("whisper", "architectures", ["WhisperForAudioClassification"]),
]


@pytest.mark.parametrize(("family", "key", "value"), REFUSED)
def test_a_key_the_converter_does_not_build_is_an_error_naming_it(family, key, value):
    with pytest.raises(SpecError) as error:
        import_spec(config(family, **{key: value}))
    assert repr(key) in str(error.value)


def test_t5_activation_from_feed_forward_proj_is_named_in_its_error():
    data = config("t5", feed_forward_proj="gated-mish")
    del data["dense_act_fn"], data["is_gated_act"]  # an older config.json: only feed_forward_proj
    with pytest.raises(SpecError, match="'feed_forward_proj'"):
        import_spec(data)


def test_a_saved_t5_configs_derived_keys_win_over_feed_forward_proj_as_in_t5config():
    # T5Config sets dense_act_fn / is_gated_act from feed_forward_proj, then the saved keys override them
    text = import_spec(config("t5", feed_forward_proj="gated-gelu"))
    assert "DenseReluDense" in text and "wi_1" not in text


# --- classes and keys against transformers ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_params_flops_and_kv_cache_equal_transformers(name):
    variant = VARIANTS[name]
    data = config(variant["family"], **variant["changed"], architectures=[variant["model_class"]])
    for key in variant["removed"]:
        data.pop(key, None)
    text = import_spec(data)
    bindings = small_bindings(variant["family"], variant["model_class"])
    report = archspec.analyze(text, convention="flopcounter", **bindings)
    assert report.totals["params"] == variant["params"]
    assert report.totals["flops"] == variant["forward_flops"]
    if "kv_cache_state_bytes" in variant:
        assert kv_cache(text, **bindings) == variant["kv_cache_state_bytes"]


@pytest.mark.parametrize(("family", "model_class"), [("roberta", "RobertaModel"), ("bart", "BartForConditionalGeneration")])
def test_another_class_is_built_exactly_when_the_config_names_it(family, model_class):
    # hf_families_measured.json measures the class each published config names (RobertaForMaskedLM,
    # BartModel) and, under "also", the bare or head class beside it: named in architectures, it is
    # built, and matches to the unit
    also = FAMILIES[family]["also"][model_class]
    full = archspec.analyze(import_spec(config(family, "", architectures=[model_class])))
    assert full.totals["params"] == also["reference"]["params"]
    text = import_spec(config(family, architectures=[model_class]))
    bindings = small_bindings(family, model_class)
    small = archspec.analyze(text, convention="flopcounter", **bindings)
    assert (small.totals["params"], small.totals["flops"]) == (also["small"]["params"], also["small"]["forward_flops"])
    if "kv_cache" in also["small"]:
        assert kv_cache(text, **bindings) == also["small"]["kv_cache"]["state_bytes"]


@pytest.mark.parametrize(("family", "built"), [
    ("bert", "BertModel"), ("roberta", "RobertaModel"), ("vit", "ViTModel"),
    ("t5", "T5ForConditionalGeneration"), ("bart", "BartForConditionalGeneration"),
    ("whisper", "WhisperForConditionalGeneration"),
])
def test_without_architectures_the_family_default_is_built_and_said(family, built):
    data = config(family, "")
    del data["architectures"]
    text = import_spec(data)
    assert f"No architectures key: built as {built}." in text
    named = import_spec(config(family, "", architectures=[built]))
    assert totals(archspec.analyze(text)) == totals(archspec.analyze(named))


def test_eager_attention_writes_the_eager_kernel_everywhere():
    text = import_spec(CONFIGS / "bart.json", attention="eager")
    attention_lines = [line for line in text.splitlines() if "type: Attention" in line]
    assert len(attention_lines) == 3 and all("kernel: eager" in line for line in attention_lines)


def test_seq2seq_decode_steps_bind_the_decoder_length():
    text = import_spec(CONFIGS / "t5.json")
    assert "decode_length: T" in text
    step = archspec.analyze(text, decode=True)
    zoo = archspec.analyze(SPECS / "t5_small.yaml", decode=True)
    assert (step.totals["params"], step.totals["macs"], step.totals["flops"]) == (
        zoo.totals["params"], zoo.totals["macs"], zoo.totals["flops"])


# --- round trips against the zoo ---------------------------------------------------------------------


def totals(report, keys=("params", "buffers", "macs", "flops")):
    return {key: report.totals[key] for key in keys}


def memories(report, training: bool):
    return memory(report, MemoryOptions(training=training)).totals


def test_bert_base_model_equals_the_zoo_spec_but_for_the_dropouts_it_leaves_out():
    mine = archspec.analyze(import_spec(config("bert", "", architectures=["BertModel"])))
    zoo = archspec.analyze(SPECS / "bert_base.yaml")
    assert totals(mine) == totals(zoo)
    assert memories(mine, training=False) == memories(zoo, training=False)
    # training: BertSelfOutput and BertOutput drop out their dense outputs (hidden_dropout_prob 0.1)
    # before the residual; bert_base.yaml has no such Dropout, so their one-byte masks are the difference
    masks = 2 * 12 * 512 * 768
    trained, zoo_trained = memories(mine, training=True), memories(zoo, training=True)
    for key in trained:
        extra = masks if key in ("saved_activations", "training_total") else 0
        assert trained[key] - zoo_trained[key] == extra, key


def test_bert_masked_lm_differs_from_the_zoo_bert_model_by_the_heads():
    mine = archspec.analyze(import_spec(CONFIGS / "bert.json"))
    zoo = archspec.analyze(SPECS / "bert_base.yaml")
    hidden, vocab, length = 768, 30522, 512
    # the MLM transform's dense is the pooler's size; its LayerNorm and the decoder's bias are extra, the decoder tied
    assert mine.totals["params"] - zoo.totals["params"] == 2 * hidden + vocab
    mlm = length * (hidden * hidden + hidden * vocab)
    assert mine.totals["macs"] - zoo.totals["macs"] == mlm - hidden * hidden


def test_t5_small_equals_the_zoo_spec_and_without_dropout_its_training_memory_too():
    zoo = archspec.analyze(SPECS / "t5_small.yaml")
    mine = archspec.analyze(import_spec(CONFIGS / "t5.json"))
    assert totals(mine) == totals(zoo)
    assert memories(mine, training=False) == memories(zoo, training=False)
    # t5_small.yaml writes no Dropout: with dropout_rate 0 the import has none either
    undropped = archspec.analyze(import_spec(config("t5", "", dropout_rate=0.0)))
    assert totals(undropped, ("params", "macs", "flops", "activations")) == totals(zoo, ("params", "macs", "flops", "activations"))
    assert memories(undropped, training=True) == memories(zoo, training=True)


def test_whisper_tiny_equals_the_zoo_spec_in_everything():
    mine = archspec.analyze(import_spec(CONFIGS / "whisper.json"))
    zoo = archspec.analyze(SPECS / "whisper_tiny.yaml")
    assert totals(mine, ("params", "buffers", "macs", "flops", "activations")) == \
        totals(zoo, ("params", "buffers", "macs", "flops", "activations"))
    for training in (False, True):
        assert memories(mine, training) == memories(zoo, training)
    assert memories(mine, False)["kv_cache"] == memories(zoo, False)["kv_cache"] > 0
