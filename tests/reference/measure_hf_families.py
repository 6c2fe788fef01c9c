"""Reference figures for 29 HuggingFace model families, for the config.json importer.

Standalone (needs torch and transformers; not run by the tests):

    python tests/reference/measure_hf_families.py              # every family
    python tests/reference/measure_hf_families.py gpt2 bloom   # some of them

Each run merges its families into tests/reference/hf_families_measured.json (so partial runs add up) and
(re)writes tests/reference/hf_configs/<family>.json and <family>_small.json.

No download happens. Every config is built in code: the config class called with the keys of the reference
model's published config.json, written out in FAMILIES below as they appear there (legacy spellings such as
rope_theta / rope_scaling / rotary_pct / rope_local_base_freq / sliding_window_pattern are passed as they are, and
the 5.x config class converts them, exactly as when a user's config.json is loaded). Keys left out of a
published config.json: remote-code / hub bookkeeping (auto_map, _name_or_path, transformers_version), pure
generation settings (task_specific_params, num_beams, no_repeat_ngram_size, early_stopping, max_length,
forced_bos_token_id, whisper's forced_decoder_ids and suppress_tokens) and DeepSeek-V3's quantization_config (fp8
weight storage); every other key of each config is the class default. The keys set are stored per family in the
JSON ("config_keys_set", "small_overrides").

hf_configs/<family>.json is config.to_dict() of the full config (what save_pretrained writes as config.json, with
the version of transformers named in it). hf_configs/<family>_small.json is the same config with only the size keys
overridden (SMALL below: hidden 64, intermediate 128, MoE expert sizes 32-64, 2 layers (3 for DeepSeek with
first_k_dense_replace 1, 6 for gemma3 so that one full-attention layer appears), 4 heads, 2 KV heads for GQA, head
dim 16 where explicit, vocab 256, max positions 256, 4 experts top-2, windows 16, Mamba state 8), every *dropout* /
*pdrop* / *layerdrop* key 0, and special token ids that would fall outside the 256-token vocabulary renumbered
(the distinct ones, largest first, to 255, 254, ...; equal ids stay equal). Architecture switches (biases,
parallel residual, rotary fraction, tied embeddings, norm types, activation, MQA) keep the reference's values.

Per family the JSON records:
  - "model_class": the class AutoModelForCausalLM / AutoModelForMaskedLM / AutoModelForSeq2SeqLM /
    AutoModelForSpeechSeq2Seq / AutoModelForImageClassification / AutoModel gives for the config (checked against
    the auto mapping); "also" has the same figures for other classes of interest (BertModel, ViTModel, ...).
  - "reference": the full-size model built on torch.device("meta"): params = sum(numel) over
    model.parameters() (a tied weight counted once), params_untied = the same over
    named_parameters(remove_duplicate=False), buffers = sum(numel) over named_buffers() (persistent or not).
  - "small": a float32 CPU instance (torch.manual_seed(0)) of the small config, built with
    attn_implementation="eager" (and experts_implementation="eager" for MoE families: the per-expert Python loop,
    whose FLOPs do not depend on the routing), eval mode, torch.no_grad():
      params, buffers;
      forward_flops: torch.utils.flop_counter.FlopCounterMode total (and per aten op) for one forward with
        use_cache=False at (B, L) = (2, 16) token ids (seq2seq: encoder L = 16, decoder T = 8; whisper:
        input_features (2, num_mel_bins, 2 * max_source_positions) = (2, 80, 32), decoder T = 8; vit:
        pixel_values (2, 3, 32, 32) with patch 8). FlopCounterMode counts matmul-like ops only (mm, addmm, bmm,
        baddbmm, convolution, sdpa): norms, softmax, activations, rotary, the Mamba scan's element-wise work are 0;
      kv_cache_bytes (generative families): one forward at the same sizes with use_cache=True; the sum of
        numel * element_size over every distinct tensor held by the returned cache object (DynamicCache layers'
        keys/values, EncoderDecoderCache self + cross, the Mamba conv/ssm states, and the 8-byte int64
        _sliding_window_tensor each sliding-window layer keeps), float32; "kv_cache" lists the tensors by path
        (layer index as *) with shapes, and gives state_bytes (without the 0-dim bookkeeping tensors) and, for
        encoder-decoders, the bytes of the self- and cross-attention caches.
  - "notes": what an importer should know about the family's config keys.
Inputs: token ids drawn from [4, vocab - 8) with a torch.Generator seeded 0 (no special ids); no attention mask.
"""
import datetime
import json
import os
import re
import sys
from collections import OrderedDict

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

torch.set_num_threads(2)
transformers.logging.set_verbosity_error()

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = os.path.join(HERE, "hf_configs")
OUT = os.path.join(HERE, "hf_families_measured.json")

B, L, T_DEC = 2, 16, 8

# ------------------------------------------------------------------------------------------------------------------
# Small-size helpers
# ------------------------------------------------------------------------------------------------------------------
DEC = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=256,
           max_position_embeddings=256)


def dec(**extra):
    """The common decoder size keys, plus family-specific ones."""
    return {**DEC, **extra}


YARN_V2 = {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
           "original_max_position_embeddings": 4096, "type": "yarn"}
YARN_V3 = {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
           "original_max_position_embeddings": 4096, "type": "yarn"}

# ------------------------------------------------------------------------------------------------------------------
# FAMILIES: family -> reference model, config class, model class, auto class, kind, published keys, small overrides,
# other classes, notes. "keys" are the published config.json keys (see the module docstring for what is left out).
# ------------------------------------------------------------------------------------------------------------------
FAMILIES = OrderedDict()


def family(name, ref, config, model, auto, kind, keys, small, also=(), notes=(), experts=False):
    FAMILIES[name] = dict(ref=ref, config=config, model=model, auto=auto, kind=kind, keys=keys, small=small,
                          also=list(also), notes=list(notes), experts=experts)


family("llama", "meta-llama/Llama-3.1-8B", "LlamaConfig", "LlamaForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["LlamaForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=128000,
    eos_token_id=128001, hidden_act="silu", hidden_size=4096, initializer_range=0.02, intermediate_size=14336,
    max_position_embeddings=131072, mlp_bias=False, num_attention_heads=32, num_hidden_layers=32,
    num_key_value_heads=8, pretraining_tp=1, rms_norm_eps=1e-5,
    rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    rope_theta=500000.0, tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, vocab_size=128256),
    dec(num_key_value_heads=2),
    notes=["rope_scaling (llama3: factor 8, low/high_freq_factor, original_max_position_embeddings 8192) and rope_theta "
           "are folded by the 5.x class into config.rope_parameters; they change the rotary frequencies only (no "
           "parameters, no FLOPs counted). The small config keeps original_max_position_embeddings 8192 > "
           "max_position_embeddings 256 (transformers logs a warning, harmless).",
           "head_dim is absent from config.json and derived as hidden_size / num_attention_heads (128); to_dict() "
           "writes it out."])

family("mistral", "mistralai/Mistral-7B-v0.1", "MistralConfig", "MistralForCausalLM", "AutoModelForCausalLM", "causal",
       dict(architectures=["MistralForCausalLM"], bos_token_id=1, eos_token_id=2, hidden_act="silu", hidden_size=4096,
            initializer_range=0.02, intermediate_size=14336, max_position_embeddings=32768, num_attention_heads=32,
            num_hidden_layers=32, num_key_value_heads=8, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=4096,
            tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, vocab_size=32000),
       dec(num_key_value_heads=2, sliding_window=16),
       notes=["sliding_window (4096) applies to every layer (MistralConfig has no layer_types); the DynamicCache then "
              "holds sliding-window layers that keep only the last sliding_window - 1 tokens (small: W = 16, L = 16 "
              "-> 15 positions per layer) plus an 8-byte int64 _sliding_window_tensor each.",
              "The default class value of max_position_embeddings is 131072; the published v0.1 config says 32768."])

family("mixtral", "mistralai/Mixtral-8x7B-v0.1", "MixtralConfig", "MixtralForCausalLM", "AutoModelForCausalLM",
       "causal", dict(
           architectures=["MixtralForCausalLM"], attention_dropout=0.0, bos_token_id=1, eos_token_id=2,
           hidden_act="silu", hidden_size=4096, initializer_range=0.02, intermediate_size=14336,
           max_position_embeddings=32768, num_attention_heads=32, num_experts_per_tok=2, num_hidden_layers=32,
           num_key_value_heads=8, num_local_experts=8, output_router_logits=False, rms_norm_eps=1e-5,
           rope_theta=1e6, router_aux_loss_coef=0.02, sliding_window=None, tie_word_embeddings=False,
           torch_dtype="bfloat16", use_cache=True, vocab_size=32000),
       dec(num_key_value_heads=2, intermediate_size=64, num_local_experts=4, num_experts_per_tok=2),
       experts=True,
       notes=["intermediate_size is the size of each expert (no dense MLP, no shared expert); the router is a "
              "bias-free Linear(hidden, num_local_experts). num_experts is an alias of num_local_experts.",
              "sliding_window is null in the published config (full attention everywhere)."])

family("qwen2", "Qwen/Qwen2-7B", "Qwen2Config", "Qwen2ForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["Qwen2ForCausalLM"], attention_dropout=0.0, bos_token_id=151643, eos_token_id=151643,
    hidden_act="silu", hidden_size=3584, initializer_range=0.02, intermediate_size=18944,
    max_position_embeddings=131072, max_window_layers=28, num_attention_heads=28, num_hidden_layers=28,
    num_key_value_heads=4, rms_norm_eps=1e-6, rope_theta=1e6, sliding_window=131072, tie_word_embeddings=False,
    torch_dtype="bfloat16", use_cache=True, use_sliding_window=False, vocab_size=152064),
    dec(num_key_value_heads=2, sliding_window=16, max_window_layers=2),
    notes=["q/k/v projections have a bias, o_proj not (hard-coded in Qwen2Attention, no config key).",
           "sliding_window / max_window_layers are inert while use_sliding_window is false: layer_types is all "
           "full_attention (to_dict writes layer_types)."])

family("qwen2_moe", "Qwen/Qwen1.5-MoE-A2.7B", "Qwen2MoeConfig", "Qwen2MoeForCausalLM", "AutoModelForCausalLM",
       "causal", dict(
           architectures=["Qwen2MoeForCausalLM"], attention_dropout=0.0, bos_token_id=151643, eos_token_id=151643,
           hidden_act="silu", hidden_size=2048, initializer_range=0.02, intermediate_size=5632,
           max_position_embeddings=8192, max_window_layers=21, num_attention_heads=16, num_hidden_layers=24,
           num_key_value_heads=16, rms_norm_eps=1e-6, rope_theta=1e6, sliding_window=32768,
           tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, use_sliding_window=False,
           vocab_size=151936, decoder_sparse_step=1, moe_intermediate_size=1408,
           shared_expert_intermediate_size=5632, num_experts_per_tok=4, num_experts=60, norm_topk_prob=False,
           output_router_logits=False, router_aux_loss_coef=0.001),
       dec(num_key_value_heads=4, moe_intermediate_size=32, shared_expert_intermediate_size=64, num_experts=4, num_experts_per_tok=2,
           sliding_window=16, max_window_layers=2),
       experts=True,
       notes=["Every layer is sparse (decoder_sparse_step 1, mlp_only_layers empty): intermediate_size (5632) builds "
              "no module; the MLP is num_experts routed experts of moe_intermediate_size plus one shared expert of "
              "shared_expert_intermediate_size gated by a sigmoid of Linear(hidden, 1) (shared_expert_gate).",
              "qkv_bias (class default true) puts a bias on q/k/v; MHA (num_key_value_heads = num_attention_heads)."])

family("qwen3", "Qwen/Qwen3-8B", "Qwen3Config", "Qwen3ForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["Qwen3ForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=151643,
    eos_token_id=151645, head_dim=128, hidden_act="silu", hidden_size=4096, initializer_range=0.02,
    intermediate_size=12288, max_position_embeddings=40960, max_window_layers=36, num_attention_heads=32,
    num_hidden_layers=36, num_key_value_heads=8, rms_norm_eps=1e-6, rope_scaling=None, rope_theta=1000000,
    sliding_window=None, tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, use_sliding_window=False,
    vocab_size=151936),
    dec(num_key_value_heads=2, head_dim=16, max_window_layers=2),
    notes=["q_norm / k_norm: RMSNorm(head_dim) applied per head to queries and keys before rotary (2 * head_dim "
           "parameters per layer); no qkv bias (attention_bias false), unlike Qwen2."])

family("qwen3_moe", "Qwen/Qwen3-30B-A3B", "Qwen3MoeConfig", "Qwen3MoeForCausalLM", "AutoModelForCausalLM", "causal",
       dict(architectures=["Qwen3MoeForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=151643,
            decoder_sparse_step=1, eos_token_id=151645, head_dim=128, hidden_act="silu", hidden_size=2048,
            initializer_range=0.02, intermediate_size=6144, max_position_embeddings=40960, max_window_layers=48,
            mlp_only_layers=[], moe_intermediate_size=768, norm_topk_prob=True, num_attention_heads=32,
            num_experts=128, num_experts_per_tok=8, num_hidden_layers=48, num_key_value_heads=4,
            output_router_logits=False, rms_norm_eps=1e-6, rope_scaling=None, rope_theta=1000000.0,
            router_aux_loss_coef=0.001, sliding_window=None, tie_word_embeddings=False, torch_dtype="bfloat16",
            use_cache=True, use_sliding_window=False, vocab_size=151936),
       dec(num_key_value_heads=2, head_dim=16, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2,
           max_window_layers=2),
       experts=True,
       notes=["Reference attention width num_attention_heads * head_dim = 4096 differs from hidden_size 2048 "
              "(q_proj 2048 -> 4096, o_proj 4096 -> 2048); the small config has 4 * 16 = 64 = hidden_size.",
              "No shared expert; intermediate_size builds nothing while mlp_only_layers is empty and "
              "decoder_sparse_step is 1. q_norm / k_norm per head as in Qwen3."])

family("gemma", "google/gemma-7b", "GemmaConfig", "GemmaForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["GemmaForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=2, eos_token_id=1,
    head_dim=256, hidden_act="gelu", hidden_size=3072, initializer_range=0.02, intermediate_size=24576,
    max_position_embeddings=8192, num_attention_heads=16, num_hidden_layers=28, num_key_value_heads=16,
    pad_token_id=0, rms_norm_eps=1e-6, rope_scaling=None, rope_theta=10000.0, torch_dtype="bfloat16",
    use_cache=True, vocab_size=256000),
    dec(num_key_value_heads=4, head_dim=16),
    notes=["hidden_act 'gelu' in the published config is rewritten by GemmaConfig to 'gelu_pytorch_tanh' (to_dict "
           "writes the latter).",
           "num_attention_heads * head_dim = 4096 != hidden_size 3072 in the reference; tie_word_embeddings is the "
           "class default true (lm_head = embedding); the embedding output is scaled by sqrt(hidden_size) and "
           "RMSNorm uses (1 + weight)."])

family("gemma2", "google/gemma-2-9b", "Gemma2Config", "Gemma2ForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["Gemma2ForCausalLM"], attention_bias=False, attention_dropout=0.0, attn_logit_softcapping=50.0,
    bos_token_id=2, cache_implementation="hybrid", eos_token_id=1, final_logit_softcapping=30.0, head_dim=256,
    hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh", hidden_size=3584, initializer_range=0.02,
    intermediate_size=14336, max_position_embeddings=8192, num_attention_heads=16, num_hidden_layers=42,
    num_key_value_heads=8, pad_token_id=0, query_pre_attn_scalar=256, rms_norm_eps=1e-6, rope_theta=10000.0,
    sliding_window=4096, sliding_window_size=4096, torch_dtype="float32", use_cache=True, vocab_size=256000),
    dec(num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, sliding_window=16, sliding_window_size=16),
    notes=["layer_types (absent from the published config) defaults to alternating sliding_attention / "
           "full_attention, starting with sliding; to_dict writes it. Sliding layers' cache keeps sliding_window - 1 "
           "tokens.",
           "Four RMSNorms per layer (input, post_attention, pre_feedforward, post_feedforward); attention scale "
           "query_pre_attn_scalar**-0.5; tanh soft-capping of attention logits (50) and final logits (30), both "
           "element-wise (0 FLOPs counted). hidden_activation is the key used; hidden_act and sliding_window_size are "
           "kept as unused extra attributes."])

family("gemma3_text", "google/gemma-3-1b-pt", "Gemma3TextConfig", "Gemma3ForCausalLM", "AutoModelForCausalLM",
       "causal", dict(
           architectures=["Gemma3ForCausalLM"], attention_bias=False, attention_dropout=0.0,
           attn_logit_softcapping=None, bos_token_id=2, cache_implementation="hybrid", eos_token_id=1,
           final_logit_softcapping=None, head_dim=256, hidden_activation="gelu_pytorch_tanh", hidden_size=1152,
           initializer_range=0.02, intermediate_size=6912, max_position_embeddings=32768, num_attention_heads=4,
           num_hidden_layers=26, num_key_value_heads=1, pad_token_id=0, query_pre_attn_scalar=256, rms_norm_eps=1e-6,
           rope_local_base_freq=10000, rope_scaling=None, rope_theta=1000000, sliding_window=512,
           sliding_window_pattern=6, torch_dtype="bfloat16", use_cache=True, vocab_size=262144),
       dict(DEC, num_hidden_layers=6, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, sliding_window=16),
       notes=["sliding_window_pattern 6 is not a field: __post_init__ turns it into layer_types (every 6th layer "
              "full_attention, the rest sliding_attention; 26 layers -> full at 5, 11, 17, 23). to_dict writes the "
              "explicit layer_types list and also keeps sliding_window_pattern (plus a private "
              "_sliding_window_pattern); configs saved by other versions may carry only one of the two, and "
              "layer_types wins when present.",
              "rope_theta (1e6, full layers) and rope_local_base_freq (1e4, sliding layers) become the nested "
              "rope_parameters {'full_attention': ..., 'sliding_attention': ...}.",
              "q_norm / k_norm per head (RMSNorm(head_dim)), four norms per layer as in Gemma2, no soft-capping; "
              "embedding scaled by sqrt(hidden_size); tied lm_head (class default).",
              "The reference is MQA (4 heads, 1 KV head); the small config keeps num_key_value_heads 1 (its head count "
              "is the reference's 4)."])

family("phi", "microsoft/phi-2", "PhiConfig", "PhiForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["PhiForCausalLM"], attention_dropout=0.0, bos_token_id=50256, embd_pdrop=0.0, eos_token_id=50256,
    hidden_act="gelu_new", hidden_size=2560, initializer_range=0.02, intermediate_size=10240, layer_norm_eps=1e-5,
    max_position_embeddings=2048, num_attention_heads=32, num_hidden_layers=32, num_key_value_heads=32,
    partial_rotary_factor=0.4, qk_layernorm=False, resid_pdrop=0.1, rope_scaling=None, rope_theta=10000.0,
    tie_word_embeddings=False, torch_dtype="float16", use_cache=True, vocab_size=51200),
    dec(num_key_value_heads=4),
    notes=["partial_rotary_factor 0.4 (moved into rope_parameters by 5.x): rotary on int(head_dim * 0.4) = 32 of "
           "the 80 dims per head (small: int(16 * 0.4) = 6).",
           "Parallel block: one LayerNorm per layer feeds both attention and MLP (x + attn(ln(x)) + mlp(ln(x))); "
           "fc1/fc2 MLP with gelu_new; biases on q/k/v/dense/fc1/fc2 and on lm_head; final LayerNorm.",
           "qk_layernorm false (no q/k LayerNorm)."])

family("phi3", "microsoft/Phi-3-mini-4k-instruct", "Phi3Config", "Phi3ForCausalLM", "AutoModelForCausalLM", "causal",
       dict(architectures=["Phi3ForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=1,
            embd_pdrop=0.0, eos_token_id=32000, hidden_act="silu", hidden_size=3072, initializer_range=0.02,
            intermediate_size=8192, max_position_embeddings=4096, num_attention_heads=32, num_hidden_layers=32,
            num_key_value_heads=32, original_max_position_embeddings=4096, pad_token_id=32000, resid_pdrop=0.0,
            rms_norm_eps=1e-5, rope_scaling=None, rope_theta=10000.0, sliding_window=2047,
            tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, vocab_size=32064),
       dec(num_key_value_heads=4, sliding_window=16, original_max_position_embeddings=256),
       notes=["Fused projections: qkv_proj (hidden -> (heads + 2 * kv_heads) * head_dim) and gate_up_proj "
              "(hidden -> 2 * intermediate); no biases.",
              "sliding_window 2047 is applied to every layer (sliding mask and sliding cache layers that keep "
              "sliding_window - 1 tokens).",
              "pad_token_id 32000 < vocab_size 32064 (the vocabulary is padded to a multiple of 64)."])

family("gpt2", "openai-community/gpt2", "GPT2Config", "GPT2LMHeadModel", "AutoModelForCausalLM", "causal", dict(
    activation_function="gelu_new", architectures=["GPT2LMHeadModel"], attn_pdrop=0.1, bos_token_id=50256,
    embd_pdrop=0.1, eos_token_id=50256, initializer_range=0.02, layer_norm_epsilon=1e-5, n_ctx=1024, n_embd=768,
    n_head=12, n_layer=12, n_positions=1024, resid_pdrop=0.1, summary_activation=None, summary_first_dropout=0.1,
    summary_proj_to_labels=True, summary_type="cls_index", summary_use_proj=True, vocab_size=50257),
    dict(n_embd=64, n_inner=128, n_layer=2, n_head=4, vocab_size=256, n_positions=256, n_ctx=256),
    notes=["GPT-2 names: n_embd / n_layer / n_head / n_positions (attribute_map aliases hidden_size, "
           "num_hidden_layers, num_attention_heads, max_position_embeddings). n_inner is null in the published "
           "config, meaning 4 * n_embd (3072); the small config sets n_inner 128 explicitly. n_ctx is a legacy "
           "unused key.",
           "Conv1D (transposed Linear) c_attn (hidden -> 3 * hidden) / c_proj / c_fc / c_proj, all with bias; learned "
           "absolute position embeddings (wpe, n_positions rows); lm_head tied to wte (class default)."])

family("gpt_neox", "EleutherAI/pythia-1b", "GPTNeoXConfig", "GPTNeoXForCausalLM", "AutoModelForCausalLM", "causal",
       dict(architectures=["GPTNeoXForCausalLM"], bos_token_id=0, eos_token_id=0, hidden_act="gelu",
            hidden_size=2048, initializer_range=0.02, intermediate_size=8192, layer_norm_eps=1e-5,
            max_position_embeddings=2048, num_attention_heads=8, num_hidden_layers=16, rotary_emb_base=10000,
            rotary_pct=0.25, tie_word_embeddings=False, torch_dtype="float16", use_cache=True,
            use_parallel_residual=True, vocab_size=50304),
       dec(),
       notes=["rotary_pct 0.25 and rotary_emb_base are legacy keys: 5.x moves them into rope_parameters "
              "(partial_rotary_factor 0.25, rope_theta 10000); rotary on int(head_dim * 0.25) = 64 of 256 dims "
              "(small: 4 of 16).",
              "use_parallel_residual true: x + attn(ln1(x)) + mlp(ln2(x)) (two LayerNorms, both on x); false would "
              "be sequential. attention_bias (class default true) puts biases on the fused query_key_value and "
              "dense; the MLP has biases; embed_out is untied."])

family("gptj", "EleutherAI/gpt-j-6b", "GPTJConfig", "GPTJForCausalLM", "AutoModelForCausalLM", "causal", dict(
    activation_function="gelu_new", architectures=["GPTJForCausalLM"], attn_pdrop=0.0, bos_token_id=50256,
    embd_pdrop=0.0, eos_token_id=50256, gradient_checkpointing=False, initializer_range=0.02, layer_norm_epsilon=1e-5,
    n_embd=4096, n_head=16, n_inner=None, n_layer=28, n_positions=2048, resid_pdrop=0.0, rotary=True, rotary_dim=64,
    scale_attn_weights=True, summary_activation=None, summary_first_dropout=0.1, summary_proj_to_labels=True,
    summary_type="cls_index", summary_use_proj=True, tie_word_embeddings=False, tokenizer_class="GPT2Tokenizer",
    torch_dtype="float32", use_cache=True, vocab_size=50400),
    dict(n_embd=64, n_inner=128, n_layer=2, n_head=4, vocab_size=256, n_positions=256, rotary_dim=4),
    notes=["rotary_dim 64 of head_dim 256 (a quarter; small 4 of 16), GPT-J interleaved rotary; n_inner null = 4 * "
           "n_embd.",
           "Parallel block with ONE LayerNorm: x + attn(ln(x)) + mlp(ln(x)); q/k/v/out_proj without bias, fc_in / "
           "fc_out with bias, lm_head with bias and untied. n_positions builds no parameter, but each attention has a "
           "non-persistent embed_positions buffer (n_positions x rotary_dim sin/cos table): 2048 * 64 = 131072 "
           "buffer elements in the reference (one table shared by the layers)."])

family("opt", "facebook/opt-1.3b", "OPTConfig", "OPTForCausalLM", "AutoModelForCausalLM", "causal", dict(
    activation_dropout=0.0, activation_function="relu", architectures=["OPTForCausalLM"], attention_dropout=0.0,
    bos_token_id=2, do_layer_norm_before=True, dropout=0.1, eos_token_id=2, ffn_dim=8192, hidden_size=2048,
    init_std=0.02, layerdrop=0.0, max_position_embeddings=2048, num_attention_heads=32, num_hidden_layers=24,
    pad_token_id=1, prefix="</s>", torch_dtype="float16", use_cache=True, vocab_size=50272, word_embed_proj_dim=2048),
    dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=256,
         max_position_embeddings=256, word_embed_proj_dim=64),
    notes=["Learned positions with an offset of 2: embed_positions has max_position_embeddings + 2 rows (2050).",
           "do_layer_norm_before true = pre-LN with a final LayerNorm (opt-350m has false: post-LN and no final "
           "norm). word_embed_proj_dim: when != hidden_size (opt-350m: 512 vs 1024) project_in / project_out "
           "Linear layers (no bias) are added and the embedding / lm_head have word_embed_proj_dim columns; here it "
           "equals hidden_size (no projections).",
           "enable_bias (default true) biases everywhere; lm_head tied to embed_tokens (class default)."])

family("bloom", "bigscience/bloom-560m", "BloomConfig", "BloomForCausalLM", "AutoModelForCausalLM", "causal", dict(
    apply_residual_connection_post_layernorm=False, architectures=["BloomForCausalLM"], attention_dropout=0.0,
    attention_softmax_in_fp32=True, bias_dropout_fusion=True, bos_token_id=1, eos_token_id=2, hidden_dropout=0.0,
    hidden_size=1024, initializer_range=0.02, layer_norm_epsilon=1e-5, masked_softmax_fusion=True, n_head=16,
    n_inner=None, n_layer=24, offset_alibi=100, pad_token_id=3, pretraining_tp=1, skip_bias_add=True,
    skip_bias_add_qkv=False, slow_but_exact=False, unk_token_id=0, use_cache=True, vocab_size=250880),
    dict(hidden_size=64, n_layer=2, n_head=4, vocab_size=256),
    notes=["ALiBi: no position embedding and no max-position key; the per-head linear bias is added to the "
           "attention scores (baddbmm, counted by FlopCounterMode as the QK^T product).",
           "The MLP width is hard-coded to 4 * hidden_size (n_inner is an unused legacy key), so the small model's "
           "MLP is 256 wide, not 128.",
           "word_embeddings_layernorm after the embedding (extra LayerNorm), fused query_key_value with bias, "
           "lm_head tied (class default). n_layer / n_head are the canonical names (aliases num_hidden_layers / "
           "num_attention_heads)."])

family("falcon", "tiiuae/falcon-7b", "FalconConfig", "FalconForCausalLM", "AutoModelForCausalLM", "causal", dict(
    alibi=False, apply_residual_connection_post_layernorm=False, architectures=["FalconForCausalLM"],
    attention_dropout=0.0, bias=False, bos_token_id=11, eos_token_id=11, hidden_dropout=0.0, hidden_size=4544,
    initializer_range=0.02, layer_norm_epsilon=1e-5, multi_query=True, new_decoder_architecture=False,
    num_attention_heads=71, num_hidden_layers=32, parallel_attn=True, torch_dtype="bfloat16", use_cache=True,
    vocab_size=65024),
    dict(hidden_size=64, ffn_hidden_size=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=256,
         max_position_embeddings=256),
    notes=["multi_query true with new_decoder_architecture false: one shared K/V head (query_key_value: hidden -> "
           "(heads + 2) * head_dim); num_kv_heads is ignored in that mode. new_decoder_architecture true (falcon-40b "
           "/ 180b) uses num_kv_heads groups and, with num_ln_in_parallel_attn 2, two LayerNorms (ln_attn, ln_mlp).",
           "parallel_attn true: x + attn(ln(x)) + mlp(ln(x)) with one input LayerNorm; bias false on every Linear; "
           "alibi false -> rotary on the full head_dim (64). ffn_hidden_size defaults to 4 * hidden_size (18176) and "
           "to_dict writes it; lm_head tied (class default).",
           "The small config keeps multi_query (1 KV head) and sets max_position_embeddings 256 (rotary only)."])

family("olmo2", "allenai/OLMo-2-1124-7B", "Olmo2Config", "Olmo2ForCausalLM", "AutoModelForCausalLM", "causal", dict(
    architectures=["Olmo2ForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=None,
    eos_token_id=100257, hidden_act="silu", hidden_size=4096, initializer_range=0.02, intermediate_size=11008,
    max_position_embeddings=4096, num_attention_heads=32, num_hidden_layers=32, num_key_value_heads=32,
    pad_token_id=100277, rms_norm_eps=1e-6, rope_scaling=None, rope_theta=500000, tie_word_embeddings=False,
    torch_dtype="float32", use_cache=True, vocab_size=100352),
    dec(num_key_value_heads=4),
    notes=["Post-norm placement: h = x + post_attention_layernorm(attn(x)); out = h + post_feedforward_layernorm("
           "mlp(h)) (no input LayerNorm); q_norm / k_norm are RMSNorm over the whole projection (heads * head_dim and "
           "kv_heads * head_dim wide), not per head."])

family("starcoder2", "bigcode/starcoder2-3b", "Starcoder2Config", "Starcoder2ForCausalLM", "AutoModelForCausalLM",
       "causal", dict(
           architectures=["Starcoder2ForCausalLM"], attention_dropout=0.1, bos_token_id=0, embedding_dropout=0.1,
           eos_token_id=0, hidden_act="gelu_pytorch_tanh", hidden_size=3072, initializer_range=0.018042,
           intermediate_size=12288, max_position_embeddings=16384, mlp_type="default", norm_epsilon=1e-5,
           norm_type="layer_norm", num_attention_heads=24, num_hidden_layers=30, num_key_value_heads=2,
           residual_dropout=0.1, rope_theta=999999.4420358813, sliding_window=4096, torch_dtype="bfloat16",
           use_bias=True, use_cache=True, vocab_size=49152),
       dec(num_key_value_heads=2, sliding_window=16),
       notes=["LayerNorm (with bias) everywhere, plain c_fc / c_proj GELU MLP (not gated), use_bias true on every "
              "Linear; norm_type and mlp_type are unused extra keys (the HF class has only this variant).",
              "sliding_window 4096 on every layer; tie_word_embeddings is the class default true (not in the "
              "published config)."])

family("bert", "google-bert/bert-base-uncased", "BertConfig", "BertForMaskedLM", "AutoModelForMaskedLM", "encoder",
       dict(architectures=["BertForMaskedLM"], attention_probs_dropout_prob=0.1, gradient_checkpointing=False,
            hidden_act="gelu", hidden_dropout_prob=0.1, hidden_size=768, initializer_range=0.02,
            intermediate_size=3072, layer_norm_eps=1e-12, max_position_embeddings=512, num_attention_heads=12,
            num_hidden_layers=12, pad_token_id=0, position_embedding_type="absolute", type_vocab_size=2,
            use_cache=True, vocab_size=30522),
       dec(),
       also=[("BertModel", "AutoModel")],
       notes=["Class: BertForMaskedLM (AutoModelForMaskedLM, and the architectures entry); BertModel (AutoModel) is "
              "in 'also'. BertModel has the pooler (dense hidden x hidden + tanh on [CLS]); BertForMaskedLM drops it "
              "and adds cls.predictions.transform (dense + LayerNorm) and a decoder tied to word_embeddings with its "
              "own bias (vocab).",
              "Embeddings: word + position (max_position_embeddings) + token_type (type_vocab_size 2) + LayerNorm; "
              "post-LN encoder. position_embedding_type is an unused legacy key in 5.x (absolute only); BERT has "
              "no cache (encoder)."])

family("roberta", "FacebookAI/roberta-base", "RobertaConfig", "RobertaForMaskedLM", "AutoModelForMaskedLM", "encoder", dict(
    architectures=["RobertaForMaskedLM"], attention_probs_dropout_prob=0.1, bos_token_id=0, eos_token_id=2,
    hidden_act="gelu", hidden_dropout_prob=0.1, hidden_size=768, initializer_range=0.02, intermediate_size=3072,
    layer_norm_eps=1e-5, max_position_embeddings=514, num_attention_heads=12, num_hidden_layers=12, pad_token_id=1,
    type_vocab_size=1, vocab_size=50265),
    dec(),
    also=[("RobertaModel", "AutoModel")],
    notes=["Class: RobertaForMaskedLM, the architectures entry (archspec import builds the class a config names); "
           "RobertaModel (AutoModel; with the pooler) is in 'also'.",
           "max_position_embeddings 514 = 512 + pad_token_id + 1: positions start at padding_idx + 1 = 2, so only 512 "
           "positions are usable; type_vocab_size 1."])

family("t5", "google-t5/t5-small", "T5Config", "T5ForConditionalGeneration", "AutoModelForSeq2SeqLM", "seq2seq", dict(
    architectures=["T5ForConditionalGeneration"], d_ff=2048, d_kv=64, d_model=512, decoder_start_token_id=0,
    dropout_rate=0.1, eos_token_id=1, initializer_factor=1.0, is_encoder_decoder=True, layer_norm_epsilon=1e-6,
    n_positions=512, num_heads=8, num_layers=6, output_past=True, pad_token_id=0, relative_attention_num_buckets=32,
    vocab_size=32128),
    dict(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, vocab_size=256, n_positions=256),
    notes=["num_decoder_layers absent -> equals num_layers. d_kv is explicit (num_heads * d_kv need not equal "
           "d_model). feed_forward_proj 'relu' (class default; t5 v1.1 / flan use 'gated-gelu').",
           "Relative attention bias: an Embedding(relative_attention_num_buckets, num_heads) in the first layer of "
           "each stack only; no absolute positions (n_positions is unused). RMS-style T5LayerNorm without bias, "
           "no Linear biases; lm_head tied to shared (tie_word_embeddings default true), decoder output scaled by "
           "d_model**-0.5 before it.",
           "Cache: EncoderDecoderCache = self-attention (T decoder positions) + cross-attention (the L encoder "
           "positions) per decoder layer."])

family("bart", "facebook/bart-base", "BartConfig", "BartModel", "AutoModel", "seq2seq",
       dict(activation_dropout=0.1, activation_function="gelu", add_bias_logits=False, add_final_layer_norm=False,
            architectures=["BartModel"], attention_dropout=0.1, bos_token_id=0, classif_dropout=0.1,
            classifier_dropout=0.0, d_model=768, decoder_attention_heads=12, decoder_ffn_dim=3072,
            decoder_layerdrop=0.0, decoder_layers=6, decoder_start_token_id=2, dropout=0.1,
            encoder_attention_heads=12, encoder_ffn_dim=3072, encoder_layerdrop=0.0, encoder_layers=6,
            eos_token_id=2, forced_eos_token_id=2, gradient_checkpointing=False, init_std=0.02,
            is_encoder_decoder=True, id2label={"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
            label2id={"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}, max_position_embeddings=1024,
            normalize_before=False, normalize_embedding=True, pad_token_id=1, scale_embedding=False,
            torch_dtype="float32", use_cache=True, vocab_size=50265),
       dict(d_model=64, encoder_attention_heads=4, decoder_attention_heads=4, encoder_layers=2, decoder_layers=2,
            encoder_ffn_dim=128, decoder_ffn_dim=128, vocab_size=256, max_position_embeddings=256),
       notes=["The published config also has num_hidden_layers 6, which is an attribute_map alias of encoder_layers: "
              "it is not passed (it would fight the encoder_layers override).",
              "Learned positions with offset 2 (max_position_embeddings + 2 rows per stack), layernorm_embedding in "
              "each stack, post-LN layers; add_final_layer_norm / normalize_before / add_bias_logits / "
              "normalize_embedding are mBART-era keys the BART class ignores. final_logits_bias is a (1, vocab) "
              "buffer; lm_head tied to shared.",
              "The published architectures entry is BartModel, the class measured (archspec import builds the class "
              "a config names); AutoModelForSeq2SeqLM would give BartForConditionalGeneration."],
       also=[("BartForConditionalGeneration", "AutoModelForSeq2SeqLM")])

family("whisper", "openai/whisper-tiny", "WhisperConfig", "WhisperForConditionalGeneration",
       "AutoModelForSpeechSeq2Seq", "whisper", dict(
           activation_dropout=0.0, activation_function="gelu", architectures=["WhisperForConditionalGeneration"],
           attention_dropout=0.0, begin_suppress_tokens=[220, 50257], bos_token_id=50257, d_model=384,
           decoder_attention_heads=6, decoder_ffn_dim=1536, decoder_layerdrop=0.0, decoder_layers=4,
           decoder_start_token_id=50258, dropout=0.0, encoder_attention_heads=6, encoder_ffn_dim=1536,
           encoder_layerdrop=0.0, encoder_layers=4, eos_token_id=50257, init_std=0.02, is_encoder_decoder=True,
           max_source_positions=1500, max_target_positions=448, num_mel_bins=80, pad_token_id=50257,
           scale_embedding=False, torch_dtype="float32", use_cache=True, vocab_size=51865),
       dict(d_model=64, encoder_attention_heads=4, decoder_attention_heads=4, encoder_layers=2, decoder_layers=2,
            encoder_ffn_dim=128, decoder_ffn_dim=128, vocab_size=256, max_source_positions=16,
            max_target_positions=256),
       notes=["Encoder front end: Conv1d(num_mel_bins, d, 3, pad 1) + GELU + Conv1d(d, d, 3, stride 2, pad 1): input "
              "frames must be exactly 2 * max_source_positions (3000 for the reference); the encoder's sinusoidal "
              "position table (max_source_positions x d) is a parameter (not trained) and counts in parameters(). "
              "Decoder: learned positions (max_target_positions x d).",
              "k_proj has no bias (q/v/out do); pre-LN with final LayerNorms; proj_out tied to embed_tokens.",
              "num_mel_bins is kept at 80 in the small config (not a size key of the brief). num_hidden_layers "
              "(alias of encoder_layers) is not passed; forced_decoder_ids / suppress_tokens / max_length "
              "(generation) are not set.",
              "Cache: EncoderDecoderCache, self-attention over T decoder positions + cross-attention over the "
              "max_source_positions encoder positions."])

family("vit", "google/vit-base-patch16-224", "ViTConfig", "ViTForImageClassification",
       "AutoModelForImageClassification", "vit", dict(
           architectures=["ViTForImageClassification"], attention_probs_dropout_prob=0.0, hidden_act="gelu",
           hidden_dropout_prob=0.0, hidden_size=768, image_size=224, initializer_range=0.02, intermediate_size=3072,
           layer_norm_eps=1e-12, num_attention_heads=12, num_channels=3, num_hidden_layers=12, num_labels=1000,
           patch_size=16, qkv_bias=True),
       dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=32,
            patch_size=8),
       also=[("ViTModel", "AutoModel")],
       notes=["Class: ViTForImageClassification (AutoModelForImageClassification, the architectures entry): no pooler, "
              "classifier Linear(hidden, num_labels) on the final-LayerNorm [CLS] token. ViTModel (AutoModel, "
              "add_pooling_layer=True by default) in 'also' has the pooler (dense hidden x hidden + tanh) instead.",
              "The published config lists 1000 ImageNet names in id2label; here num_labels=1000 gives LABEL_0..999 "
              "(same size). Sequence = (image_size / patch_size)**2 + 1 ([CLS]); learned position embeddings of that "
              "length are a parameter (no max-position key).",
              "The small config keeps num_labels 1000 (not a size key of the brief): the classifier is 64 * 1000 + "
              "1000 parameters."])

family("deepseek_v2", "deepseek-ai/DeepSeek-V2-Lite", "DeepseekV2Config", "DeepseekV2ForCausalLM",
       "AutoModelForCausalLM", "causal", dict(
           architectures=["DeepseekV2ForCausalLM"], attention_bias=False, attention_dropout=0.0, aux_loss_alpha=0.001,
           bos_token_id=100000, eos_token_id=100001, first_k_dense_replace=1, hidden_act="silu", hidden_size=2048,
           initializer_range=0.02, intermediate_size=10944, kv_lora_rank=512, max_position_embeddings=163840,
           moe_intermediate_size=1408, moe_layer_freq=1, n_group=1, n_routed_experts=64, n_shared_experts=2,
           norm_topk_prob=False, num_attention_heads=16, num_experts_per_tok=6, num_hidden_layers=27,
           num_key_value_heads=16, pretraining_tp=1, q_lora_rank=None, qk_nope_head_dim=128, qk_rope_head_dim=64,
           rms_norm_eps=1e-6, rope_scaling=YARN_V2, rope_theta=10000, routed_scaling_factor=1.0,
           scoring_func="softmax", seq_aux=True, tie_word_embeddings=False, topk_group=1, topk_method="greedy",
           torch_dtype="bfloat16", use_cache=True, v_head_dim=128, vocab_size=102400),
       dict(DEC, num_hidden_layers=3, first_k_dense_replace=1, num_key_value_heads=4, kv_lora_rank=32,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, moe_intermediate_size=32, n_routed_experts=4,
            num_experts_per_tok=2),
       experts=True,
       notes=["MLA: q_lora_rank null -> q_proj hidden -> heads * (qk_nope + qk_rope); kv_a_proj_with_mqa hidden -> "
              "kv_lora_rank + qk_rope_head_dim, kv_a_layernorm, kv_b_proj kv_lora_rank -> heads * (qk_nope + v_head); "
              "o_proj heads * v_head -> hidden. num_key_value_heads is nominal (= heads).",
              "The 5.x cache holds the compressed latent, not per-head keys/values: the layer's 'keys' slot is the "
              "normalized latent (B, 1, L, kv_lora_rank) and its 'values' slot the roped shared key (B, 1, L, "
              "qk_rope_head_dim); kv_b_proj re-expands the whole cached latent on every forward (expand_kv), so "
              "decode FLOPs grow with the cache length through kv_b_proj too.",
              "first_k_dense_replace 1: layer 0 is a dense MLP of intermediate_size; the rest are MoE with "
              "n_routed_experts of moe_intermediate_size and n_shared_experts fused into one MLP of n_shared * "
              "moe_intermediate_size. moe_layer_freq, scoring_func, seq_aux, aux_loss_alpha are extra keys the HF "
              "class ignores.",
              "rope_scaling yarn (type -> rope_type) becomes rope_parameters; it changes no parameter and no counted "
              "FLOP (the yarn attention-scale factor is element-wise)."])

family("deepseek_v3", "deepseek-ai/DeepSeek-V3", "DeepseekV3Config", "DeepseekV3ForCausalLM", "AutoModelForCausalLM",
       "causal", dict(
           architectures=["DeepseekV3ForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=0,
           eos_token_id=1, ep_size=1, first_k_dense_replace=3, hidden_act="silu", hidden_size=7168,
           initializer_range=0.02, intermediate_size=18432, kv_lora_rank=512, max_position_embeddings=163840,
           moe_intermediate_size=2048, moe_layer_freq=1, n_group=8, n_routed_experts=256, n_shared_experts=1,
           norm_topk_prob=True, num_attention_heads=128, num_experts_per_tok=8, num_hidden_layers=61,
           num_key_value_heads=128, num_nextn_predict_layers=1, q_lora_rank=1536, qk_nope_head_dim=128,
           qk_rope_head_dim=64, rms_norm_eps=1e-6, rope_scaling=YARN_V3, rope_theta=10000, routed_scaling_factor=2.5,
           scoring_func="sigmoid", tie_word_embeddings=False, topk_group=4, topk_method="noaux_tc",
           torch_dtype="bfloat16", use_cache=True, v_head_dim=128, vocab_size=129280),
       dict(DEC, num_hidden_layers=3, first_k_dense_replace=1, num_key_value_heads=4, q_lora_rank=32,
            kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, moe_intermediate_size=32,
            n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1),
       experts=True,
       notes=["As deepseek_v2 plus q_lora_rank 1536: q_a_proj hidden -> q_lora_rank, q_a_layernorm, q_b_proj -> heads * "
              "(qk_nope + qk_rope). Router: sigmoid scores with an e_score_correction_bias buffer (n_routed_experts), "
              "group-limited top-k (n_group, topk_group), routed_scaling_factor 2.5.",
              "num_nextn_predict_layers 1 (alias num_mtp_layers) is kept in the config but DeepseekV3ForCausalLM builds "
              "no MTP module: the 14B-parameter MTP layer of the released checkpoint is not counted.",
              "quantization_config (fp8 e4m3, 128x128 blocks) is left out: it concerns the stored weights only.",
              "Small: n_group 2 / topk_group 1 so that each group has the 2 experts the group score needs."])

family("mamba", "state-spaces/mamba-130m-hf", "MambaConfig", "MambaForCausalLM", "AutoModelForCausalLM", "mamba", dict(
    architectures=["MambaForCausalLM"], bos_token_id=0, conv_kernel=4, eos_token_id=0, expand=2, fused_add_norm=True,
    hidden_act="silu", hidden_size=768, initializer_range=0.1, intermediate_size=1536, layer_norm_epsilon=1e-5,
    n_layer=24, num_hidden_layers=24, pad_token_id=0, pad_vocab_size_multiple=8, rescale_prenorm_residual=False,
    residual_in_fp32=True, rms_norm=True, ssm_cfg={}, state_size=16, time_step_floor=1e-4,
    time_step_init_scheme="random", time_step_max=0.1, time_step_min=0.001, time_step_rank=48, time_step_scale=1.0,
    torch_dtype="float32", use_bias=False, use_cache=True, use_conv_bias=True, vocab_size=50280),
    dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, n_layer=2, state_size=8, time_step_rank=4,
         vocab_size=256),
    notes=["intermediate_size is always recomputed as expand * hidden_size (the key is overwritten); time_step_rank "
           "'auto' means ceil(hidden_size / 16) (48 for the reference, 4 for the small one). n_layer, fused_add_norm, "
           "rms_norm, ssm_cfg, pad_vocab_size_multiple are unused extra keys (the HF block always uses RMSNorm).",
           "Mixer: in_proj hidden -> 2 * intermediate (no bias), depthwise conv1d (kernel conv_kernel, bias), x_proj "
           "intermediate -> time_step_rank + 2 * state_size, dt_proj time_step_rank -> intermediate (bias), A_log and "
           "D (intermediate x state, intermediate), out_proj; lm_head tied (class default).",
           "Without the CUDA kernels the slow path runs; its scan is element-wise except the per-step C readout "
           "(a matmul, counted). Cache: per layer a conv state (B, intermediate, conv_kernel) and an SSM state "
           "(B, intermediate, state_size): independent of L."])


# ------------------------------------------------------------------------------------------------------------------
# Config construction
# ------------------------------------------------------------------------------------------------------------------
TOKEN_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "forced_eos_token_id",
              "forced_bos_token_id", "unk_token_id", "sep_token_id", "cls_token_id")


def small_keys(spec):
    """Published keys + size overrides, dropouts 0, out-of-vocabulary special ids renumbered."""
    config_class = getattr(transformers, spec["config"])
    keys = {**spec["keys"], **spec["small"]}
    names = set(keys) | set(config_class().to_dict())
    for k in names:
        if "dropout" in k or "pdrop" in k or "layerdrop" in k:
            keys[k] = 0.0
    vocab = keys["vocab_size"] if "vocab_size" in keys else None
    if vocab is not None:
        def ids(v):
            return v if isinstance(v, list) else [v]
        big = sorted({i for k in TOKEN_KEYS + ("begin_suppress_tokens",) if keys.get(k) is not None
                      for i in ids(keys[k]) if isinstance(i, int) and i >= vocab}, reverse=True)
        remap = {old: vocab - 1 - n for n, old in enumerate(big)}
        for k in TOKEN_KEYS + ("begin_suppress_tokens",):
            v = keys.get(k)
            if isinstance(v, list):
                keys[k] = [remap.get(i, i) for i in v]
            elif isinstance(v, int):
                keys[k] = remap.get(v, v)
    return keys


def make_config(spec, small, measure=False):
    config_class = getattr(transformers, spec["config"])
    keys = small_keys(spec) if small else dict(spec["keys"])
    extra = {}
    if measure:
        extra["attn_implementation"] = "eager"
        if spec["experts"]:
            extra["experts_implementation"] = "eager"
    return config_class(**keys, **extra), keys


def build(class_name, config, meta):
    model_class = getattr(transformers, class_name)
    if meta:
        with torch.device("meta"):
            return model_class(config)
    torch.manual_seed(0)
    return model_class(config).float().eval()


def counts(model):
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        params_untied=sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)),
        buffers=sum(b.numel() for _, b in model.named_buffers()),
    )


# ------------------------------------------------------------------------------------------------------------------
# Inputs, FLOPs, cache
# ------------------------------------------------------------------------------------------------------------------
def make_inputs(kind, config):
    g = torch.Generator().manual_seed(0)

    def ids(n):
        return torch.randint(4, config.vocab_size - 8, (B, n), generator=g)

    if kind in ("causal", "mamba", "encoder"):
        return dict(input_ids=ids(L))
    if kind == "seq2seq":
        return dict(input_ids=ids(L), decoder_input_ids=ids(T_DEC))
    if kind == "whisper":
        feats = torch.randn(B, config.num_mel_bins, 2 * config.max_source_positions, generator=g)
        return dict(input_features=feats, decoder_input_ids=ids(T_DEC))
    if kind == "vit":
        return dict(pixel_values=torch.randn(B, config.num_channels, config.image_size, config.image_size,
                                             generator=g))
    raise ValueError(kind)


def forward_flops(model, inputs, kind):
    extra = {} if kind in ("encoder", "vit") else dict(use_cache=False)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(**inputs, **extra)
    by_op = {str(op).replace("aten.", ""): int(n) for op, n in fc.get_flop_counts()["Global"].items()}
    return int(fc.get_total_flops()), dict(sorted(by_op.items()))


def walk_tensors(obj, path, out, seen):
    """(path, tensor) for every tensor reachable from a cache object (lists, dicts, transformers objects)."""
    if id(obj) in seen:
        return
    if isinstance(obj, torch.Tensor):
        seen.add(id(obj))
        out.append((path, obj))
        return
    if isinstance(obj, (list, tuple)):
        seen.add(id(obj))
        for i, x in enumerate(obj):
            walk_tensors(x, f"{path}.{i}", out, seen)
    elif isinstance(obj, dict):
        seen.add(id(obj))
        for k, x in obj.items():
            walk_tensors(x, f"{path}.{k}", out, seen)
    elif type(obj).__module__.startswith("transformers") and hasattr(obj, "__dict__"):
        seen.add(id(obj))
        for k, x in vars(obj).items():
            walk_tensors(x, f"{path}.{k}" if path else k, out, seen)


def cache_bytes(model, inputs):
    with torch.no_grad():
        out = model(**inputs, use_cache=True)
    cache = getattr(out, "past_key_values", None)
    if cache is None:
        cache = getattr(out, "cache", None)
    found = []
    walk_tensors(cache, "", found, set())
    groups = OrderedDict()
    for path, t in found:
        key = (re.sub(r"\.\d+(?=\.|$)", ".*", path), tuple(t.shape), str(t.dtype).replace("torch.", ""))
        groups[key] = groups.get(key, 0) + 1
    total = sum(t.numel() * t.element_size() for _, t in found)
    # state = the cached activations only, without bookkeeping tensors such as a sliding layer's 0-dim int64
    # _sliding_window_tensor (8 bytes per sliding layer)
    state = sum(t.numel() * t.element_size() for p, t in found if not p.rsplit(".", 1)[-1].startswith("_"))
    parts = {}
    for p, t in found:
        if p.startswith(("self_attention_cache", "cross_attention_cache")):
            part = p.split(".", 1)[0]
            parts[part] = parts.get(part, 0) + t.numel() * t.element_size()
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for _, t in found if t.numel()}
    layers = getattr(cache, "layers", None)
    detail = dict(
        cache_class=type(cache).__name__,
        layer_classes=[type(x).__name__ for x in layers] if layers is not None else None,
        tensor_bytes=total,
        state_bytes=state,
        storage_bytes=sum(storages.values()),
        **({"bytes_by_part": parts} if parts else {}),
        tensors=[[p, list(s), d, n] for (p, s, d), n in groups.items()],
    )
    if hasattr(cache, "self_attention_cache"):
        detail["self_attention_layer_classes"] = [type(x).__name__ for x in cache.self_attention_cache.layers]
        detail["cross_attention_layer_classes"] = [type(x).__name__ for x in cache.cross_attention_cache.layers]
    return total, detail


# ------------------------------------------------------------------------------------------------------------------
# Per-family measurement
# ------------------------------------------------------------------------------------------------------------------
AUTO_KIND = {"causal", "seq2seq", "whisper", "mamba"}  # families whose model keeps a cache


def check_auto(auto_name, config, class_name):
    mapping = getattr(transformers, auto_name)._model_mapping
    got = mapping[type(config)].__name__
    assert got == class_name, (auto_name, got, class_name)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def measure(name):
    spec = FAMILIES[name]
    full_cfg, full_keys = make_config(spec, small=False)
    small_cfg, small_all = make_config(spec, small=True)
    write_json(os.path.join(CONFIG_DIR, f"{name}.json"), full_cfg.to_dict())
    write_json(os.path.join(CONFIG_DIR, f"{name}_small.json"), small_cfg.to_dict())

    classes = [(spec["model"], spec["auto"])] + spec["also"]
    result = dict(reference_model=spec["ref"], config_class=spec["config"], model_class=spec["model"],
                  auto_class=spec["auto"], model_type=full_cfg.model_type,
                  config_keys_set=full_keys, small_overrides={k: v for k, v in small_all.items()
                                                               if full_keys.get(k, object()) != v})
    per_class = {}
    meas_cfg, _ = make_config(spec, small=True, measure=True)
    for class_name, auto_name in classes:
        check_auto(auto_name, full_cfg, class_name)
        model = build(class_name, full_cfg, meta=True)
        ref = counts(model)
        del model
        model = build(class_name, meas_cfg, meta=False)
        inputs = make_inputs(spec["kind"], meas_cfg)
        small = counts(model)
        small["forward_flops"], small["forward_flops_by_op"] = forward_flops(model, inputs, spec["kind"])
        small["inputs"] = {k: list(v.shape) for k, v in inputs.items()}
        if class_name == spec["model"] and spec["kind"] in AUTO_KIND:
            small["kv_cache_bytes"], small["kv_cache"] = cache_bytes(model, inputs)
        small["attn_implementation"] = meas_cfg._attn_implementation
        if spec["experts"]:
            small["experts_implementation"] = getattr(meas_cfg, "_experts_implementation", None)
        per_class[class_name] = dict(auto_class=auto_name, reference=ref, small=small)
        del model
    main = per_class.pop(spec["model"])
    result["reference"] = main["reference"]
    result["small"] = main["small"]
    if per_class:
        result["also"] = per_class
    result["resolved"] = resolved_facts(full_cfg, meas_cfg)
    result["notes"] = spec["notes"]
    return result


def resolved_facts(full_cfg, small_cfg):
    """Values the config class derives from the published keys (what an importer must reproduce)."""
    facts = {}
    for key in ("head_dim", "num_key_value_heads", "num_kv_heads", "layer_types", "rope_parameters", "n_inner",
                "ffn_hidden_size", "intermediate_size", "time_step_rank", "sliding_window", "hidden_act",
                "tie_word_embeddings"):
        for label, cfg in (("reference", full_cfg), ("small", small_cfg)):
            try:
                v = getattr(cfg, key)
            except AttributeError:
                continue
            if key == "layer_types" and isinstance(v, list):
                v = compress(v)
            facts.setdefault(key, {})[label] = v
    return facts


def compress(seq):
    """['a', 'a', 'b'] -> [['a', 2], ['b', 1]]."""
    out = []
    for x in seq:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return out


def main(argv):
    names = argv or list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise SystemExit(f"unknown families: {unknown}; known: {list(FAMILIES)}")
    os.makedirs(CONFIG_DIR, exist_ok=True)
    data = json.load(open(OUT)) if os.path.exists(OUT) else {}
    data["about"] = (
        f"Measured by tests/reference/measure_hf_families.py with torch {torch.__version__} (CPU) and transformers "
        f"{transformers.__version__} on {datetime.date.today().isoformat()}. Configs built in code from the published "
        "config.json values (no download); reference = full-size model on torch.device('meta') (params = sum numel "
        "over model.parameters(), tied weights once; buffers = sum numel over named_buffers()); small = float32 CPU "
        "instance of the <family>_small.json config (seed 0, eval, no_grad, attn_implementation='eager', "
        "experts_implementation='eager' for MoE), FLOPs = torch.utils.flop_counter.FlopCounterMode total for one "
        "forward with use_cache=False at (B, L) = (2, 16) (seq2seq: decoder T = 8; whisper: input_features (2, 80, 32) "
        "and T = 8; vit: pixel_values (2, 3, 32, 32), patch 8), matmul-like ops only; kv_cache_bytes = sum of "
        "numel * element_size over every tensor held by the cache object returned by one use_cache=True forward at "
        "the same sizes (float32)."
    )
    fams = data.setdefault("families", {})
    for n in names:
        print(f"[{n}] ...", file=sys.stderr, flush=True)
        fams[n] = measure(n)
        data["families"] = {k: fams[k] for k in FAMILIES if k in fams}
        fams = data["families"]
        write_json(OUT, data)
        r = fams[n]
        print(f"[{n}] {r['model_class']} ref={r['reference']['params']:,} small={r['small']['params']:,} "
              f"flops={r['small']['forward_flops']:,} kv={r['small'].get('kv_cache_bytes')}", file=sys.stderr,
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
