"""Reference figures for the encoder and encoder-decoder importers beyond the classes and keys of
hf_families_measured.json: other classes (BertModel, T5EncoderModel, ...) and architecture keys
(untied heads, T5 v1.1's gated-gelu, BART's scale_embedding, non-square ViT images, ...).

Standalone (needs torch and transformers; not run by the tests):

    python tests/reference/measure_hf_encoder_variants.py

Each variant is a small config of tests/reference/hf_configs (<family>_small.json) with some keys
changed and the class to build as its architectures entry. Measured as measure_hf_families.py does
(its helpers): float32 CPU instance, seed 0, eval, attn_implementation='eager'; params = sum numel
over model.parameters(); FlopCounterMode's forward FLOPs at B = 2, L = 16 (T = 8 for a decoder;
Whisper: 2 * max_source_positions mel frames; ViT: the config's image); KV cache state bytes after
one use_cache=True forward (models with a decoder). Written to hf_encoder_variants_measured.json.
"""
import datetime
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_hf_families import B, CONFIG_DIR, HERE, L, T_DEC, cache_bytes, counts, forward_flops, write_json  # noqa: E402

OUT = os.path.join(HERE, "hf_encoder_variants_measured.json")
V11 = dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, num_decoder_layers=3)

# name -> (family, class, changed keys, keys removed: a saved config's derived keys, absent from older config.json files)
VARIANTS = {
    "bert_model": ("bert", "BertModel", {}, ()),
    "bert_pretraining": ("bert", "BertForPreTraining", {}, ()),
    "bert_sequence_classification": ("bert", "BertForSequenceClassification", {"num_labels": 5}, ("id2label", "label2id")),
    "bert_mlm_untied_relu": ("bert", "BertForMaskedLM", {"tie_word_embeddings": False, "hidden_act": "relu"}, ()),
    "roberta_mlm": ("roberta", "RobertaForMaskedLM", {}, ()),
    "roberta_sequence_classification": ("roberta", "RobertaForSequenceClassification", {}, ()),
    "roberta_mlm_untied": ("roberta", "RobertaForMaskedLM", {"tie_word_embeddings": False}, ()),
    "t5_model": ("t5", "T5Model", {}, ()),
    "t5_encoder": ("t5", "T5EncoderModel", {}, ()),
    "t5_v1_1": ("t5", "T5ForConditionalGeneration", V11, ("dense_act_fn", "is_gated_act", "scale_decoder_outputs")),
    "bart_model": ("bart", "BartModel", {}, ()),
    "bart_scaled_untied": ("bart", "BartForConditionalGeneration",
                           {"scale_embedding": True, "tie_word_embeddings": False, "decoder_attention_heads": 2,
                            "decoder_ffn_dim": 96, "decoder_layers": 3}, ()),
    "bart_model_untied": ("bart", "BartModel", {"tie_word_embeddings": False}, ()),
    "whisper_model": ("whisper", "WhisperModel", {}, ()),
    "whisper_untied": ("whisper", "WhisperForConditionalGeneration", {"tie_word_embeddings": False, "decoder_layers": 3}, ()),
    "vit_model": ("vit", "ViTModel", {"pooler_output_size": 32, "pooler_act": "relu"}, ()),
    "vit_rectangular": ("vit", "ViTForImageClassification",
                        {"image_size": [32, 48], "patch_size": [8, 16], "qkv_bias": False, "num_labels": 10,
                         "hidden_act": "gelu_new"}, ("id2label", "label2id")),
}
DECODERS = ("T5Model", "T5ForConditionalGeneration", "BartModel", "BartForConditionalGeneration", "WhisperModel",
            "WhisperForConditionalGeneration")


def variant_config(family, class_name, changed, removed):
    """The small config's keys with the changes, and the class as its architectures entry."""
    with open(os.path.join(CONFIG_DIR, f"{family}_small.json")) as f:
        keys = json.load(f)
    for key in removed:
        keys.pop(key, None)
    keys.update(changed, architectures=[class_name])
    return keys


def inputs_for(family, config):
    g = torch.Generator().manual_seed(0)

    def ids(n):
        return torch.randint(4, config.vocab_size - 8, (B, n), generator=g)

    if family == "vit":
        size = config.image_size if isinstance(config.image_size, (list, tuple)) else [config.image_size] * 2
        return dict(pixel_values=torch.randn(B, config.num_channels, *size, generator=g))
    if family == "whisper":
        feats = torch.randn(B, config.num_mel_bins, 2 * config.max_source_positions, generator=g)
        return dict(input_features=feats, decoder_input_ids=ids(T_DEC))
    if family in ("t5", "bart"):
        if config.architectures[0] == "T5EncoderModel":
            return dict(input_ids=ids(L))
        return dict(input_ids=ids(L), decoder_input_ids=ids(T_DEC))
    return dict(input_ids=ids(L))


def measure(name):
    family, class_name, changed, removed = VARIANTS[name]
    keys = variant_config(family, class_name, changed, removed)
    config_class = type(transformers.AutoConfig.for_model(keys["model_type"]))
    config = config_class.from_dict({k: v for k, v in keys.items() if k != "model_type"}, attn_implementation="eager")
    torch.manual_seed(0)
    model = getattr(transformers, class_name)(config).float().eval()
    inputs = inputs_for(family, config)
    result = dict(family=family, model_class=class_name, changed=changed, removed=list(removed), **counts(model))
    kind = "seq2seq" if class_name in DECODERS else "encoder"
    result["forward_flops"], result["forward_flops_by_op"] = forward_flops(model, inputs, kind)
    result["inputs"] = {k: list(v.shape) for k, v in inputs.items()}
    if class_name in DECODERS:
        _, detail = cache_bytes(model, inputs)
        result["kv_cache_state_bytes"] = detail["state_bytes"]
    return result


def main():
    data = {
        "about": (f"Measured by tests/reference/measure_hf_encoder_variants.py with torch {torch.__version__} (CPU) and "
                  f"transformers {transformers.__version__} on {datetime.date.today().isoformat()}: small configs of "
                  "hf_configs/ with the keys in 'changed' set and those in 'removed' dropped, built as 'model_class'; "
                  "eager attention, float32, FlopCounterMode forward FLOPs at B = 2, L = 16 (T = 8), KV cache state bytes."),
        "variants": {},
    }
    for name in VARIANTS:
        data["variants"][name] = measure(name)
        print(f"[{name}] params={data['variants'][name]['params']:,} flops={data['variants'][name]['forward_flops']:,}",
              file=sys.stderr)
    write_json(OUT, data)


if __name__ == "__main__":
    main()
