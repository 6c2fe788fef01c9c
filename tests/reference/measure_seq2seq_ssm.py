"""Reference figures for T5, Whisper and Mamba, measured with PyTorch + HuggingFace transformers, printed as JSON
(saved as tests/reference/seq2seq_ssm_measured.json). Standalone: needs torch and transformers, not run by the tests.

    python tests/reference/measure_seq2seq_ssm.py > tests/reference/seq2seq_ssm_measured.json

No download happens: every config is built in code with the config class and explicit values taken from the
model's published config.json (the keys set are listed in FULL_CONFIGS / SMALL_CONFIGS; the config class defaults
fill the rest; the JSON records the resulting config dict).

Models: t5-small (T5ForConditionalGeneration), openai/whisper-tiny (WhisperForConditionalGeneration),
state-spaces/mamba-130m-hf (MambaForCausalLM).

For each model:

1. "full": the published architecture built on torch.device("meta") (no memory, no init):
   - parameters: sum of numel over model.parameters() (which yields a tied weight once), and the same sum over
     named_parameters(remove_duplicate=False) (what it would be untied);
   - buffers: every named buffer, persistent or not, with its shape;
   - per-module breakdown: parameters owned per module (the first name that reaches a tied weight owns it),
     grouped per layer of each stack, every parameter of the first layer of each stack, and named components
     (embeddings, relative attention bias tables, conv front-end, positional embeddings, norms, lm_head tied or
     not, Mamba mixer parts).

2. "small": a small real instance (float32, CPU, torch.manual_seed(0), every dropout 0, attn_implementation "eager"):
   a. params and buffers as above;
   b. forward FLOPs: torch.utils.flop_counter.FlopCounterMode around one eval-mode, no-grad forward of the full model
      with its LM head and use_cache=False. Total, per-operator, and per-module (get_flop_counts(); modules of the
      second and later layers of each stack are left out of the per-module table to keep it short, the totals
      include them). FlopCounterMode counts matmul-like ops (mm, addmm, bmm, convolution, sdpa) only:
      element-wise ops (softmax, norms, activations, the SSM exp/multiply/add) count zero;
   c. cache: one eval, no-grad forward with use_cache=True; the class of the returned cache object, and per layer
      the shape, dtype and bytes of every tensor it holds (self-attention and cross-attention separately; for Mamba
      the conv and recurrent/ssm states), the total bytes (distinct storages), plus quoted transformers source lines
      that decide what is stored;
   d. decode step: after that forward, FlopCounterMode around the next forward of one token per sequence reusing
      the cache (and the encoder output for T5/Whisper, whose decoders then have P = T past tokens), and the cache
      after it;
   e. saved-for-backward bytes: train mode (dropouts are 0), float32, one forward to the logits (no loss,
      use_cache=False), the bytes of the distinct storages packed by torch.autograd.graph.saved_tensors_hooks,
      keyed by untyped_storage().data_ptr() with value storage.nbytes(), parameter storages skipped. At B = 1 and 2
      (and other sizes where listed). Attribution per module: forward pre/post hooks on every module keep a stack;
      each packed storage is charged to the innermost module running when it is first packed ("<root>" is the
      model's own forward). Per-module records (bytes and the (shape, dtype) list of packed tensors) are given for
      modules outside repeated layers and inside the first layer of each stack only; per-layer totals cover all.
"""
import datetime
import inspect
import json
import logging
import re
import sys
from collections import Counter, defaultdict

import torch
import transformers
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    MambaConfig,
    MambaForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
    WhisperConfig,
    WhisperForConditionalGeneration,
)
from transformers import cache_utils
from transformers.models.mamba import configuration_mamba, modeling_mamba
from transformers.models.t5 import configuration_t5, modeling_t5
from transformers.models.whisper import modeling_whisper

torch.set_num_threads(2)

# ---------------------------------------------------------------------------------------------------------------
# Configs. Full ones: the keys of each published config.json that the config class knows (generation-only keys,
# e.g. whisper's forced_decoder_ids / suppress_tokens / max_length and t5's task_specific_params, are omitted as
# they change no parameter, buffer or FLOP). Everything not listed comes from the config class defaults.
# ---------------------------------------------------------------------------------------------------------------
FULL_CONFIGS = {
    "t5-small": dict(  # google-t5/t5-small config.json
        vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
        relative_attention_num_buckets=32, dropout_rate=0.1, layer_norm_epsilon=1e-6, initializer_factor=1.0,
        feed_forward_proj="relu", is_encoder_decoder=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    ),
    "openai/whisper-tiny": dict(  # openai/whisper-tiny config.json
        vocab_size=51865, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
        encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536,
        max_source_positions=1500, max_target_positions=448, activation_function="gelu", dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0, decoder_layerdrop=0.0,
        scale_embedding=False, init_std=0.02, is_encoder_decoder=True, pad_token_id=50257, bos_token_id=50257,
        eos_token_id=50257, decoder_start_token_id=50258, begin_suppress_tokens=[220, 50257],
    ),
    "state-spaces/mamba-130m-hf": dict(  # state-spaces/mamba-130m-hf config.json
        vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4,
        time_step_rank=48, use_bias=False, use_conv_bias=True, hidden_act="silu", layer_norm_epsilon=1e-5,
        residual_in_fp32=True, rescale_prenorm_residual=False, initializer_range=0.1, time_step_scale=1.0,
        time_step_min=0.001, time_step_max=0.1, time_step_init_scheme="random", time_step_floor=1e-4,
        pad_token_id=0, bos_token_id=0, eos_token_id=0,
        # config.json also has intermediate_size=1536 (derived by the class as expand * hidden_size), n_layer,
        # fused_add_norm, rms_norm, ssm_cfg, pad_vocab_size_multiple: not MambaConfig fields, not set.
    ),
}

SMALL_CONFIGS = {
    "t5-small": dict(
        vocab_size=256, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu",
        dropout_rate=0.0, classifier_dropout=0.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    ),
    "openai/whisper-tiny": dict(
        vocab_size=256, d_model=64, encoder_attention_heads=4, decoder_attention_heads=4, encoder_layers=2,
        decoder_layers=2, encoder_ffn_dim=128, decoder_ffn_dim=128, num_mel_bins=16, max_source_positions=24,
        max_target_positions=32, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0,
        decoder_layerdrop=0.0, pad_token_id=1, bos_token_id=1, eos_token_id=1, decoder_start_token_id=2,
        begin_suppress_tokens=[3, 1],
    ),
    "state-spaces/mamba-130m-hf": dict(
        vocab_size=256, hidden_size=64, num_hidden_layers=2, state_size=8, expand=2, conv_kernel=4,
        time_step_rank="auto",
    ),
}

CLASSES = {
    "t5-small": (T5Config, T5ForConditionalGeneration),
    "openai/whisper-tiny": (WhisperConfig, WhisperForConditionalGeneration),
    "state-spaces/mamba-130m-hf": (MambaConfig, MambaForCausalLM),
}

KNOWN_PARAMS = {"t5-small": 60_506_624, "openai/whisper-tiny": 37_760_640, "state-spaces/mamba-130m-hf": "~129M"}

# A layer index inside a stack: encoder.block.3, decoder.layers.1, backbone.layers.0 ...
LAYER = re.compile(r"^(.*?\.(?:block|layers))\.(\d+)(?:\.|$)")


def layer_of(name):
    """('encoder.block', 3) for a name inside a repeated layer, else None."""
    m = LAYER.match(name + ".") if name else None
    return (m.group(1), int(m.group(2))) if m else None


def readable(name):
    """True for a module name outside repeated layers or inside the first layer of its stack."""
    found = layer_of(name)
    return found is None or found[1] == 0


def build(name, small, device):
    config_cls, model_cls = CLASSES[name]
    keys = SMALL_CONFIGS[name] if small else FULL_CONFIGS[name]
    config = config_cls(**keys, attn_implementation="eager") if small else config_cls(**keys)
    torch.manual_seed(0)
    with torch.device(device):
        model = model_cls(config)
    return model.float(), config


def quote(module, marker, count, occurrence=1):
    """`count` source lines of `module` from the `occurrence`-th line containing `marker`, with file:line."""
    path = inspect.getsourcefile(module)
    lines = open(path).read().splitlines()
    hits = [i for i, line in enumerate(lines) if marker in line]
    start = hits[occurrence - 1]
    rel = path[path.index("transformers/"):]
    return {"where": f"{rel}:{start + 1}-{start + count}", "text": lines[start:start + count]}


# ---------------------------------------------------------------------------------------------------------------
# Parameters and buffers
# ---------------------------------------------------------------------------------------------------------------
def param_report(model, components):
    """Parameters (tied once), untied sum, buffers, per-layer / per-module ownership, first-layer detail."""
    total = sum(p.numel() for p in model.parameters())
    untied = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    owner = {}  # id(param) -> first qualified name
    for pname, p in model.named_parameters(remove_duplicate=False):
        owner.setdefault(id(p), pname)
    tied = {pname: owner[id(p)] for pname, p in model.named_parameters(remove_duplicate=False) if owner[id(p)] != pname}
    grouped = Counter()
    first_layer = {}
    for pname, p in model.named_parameters():  # deduplicated: the first name owns a tied weight
        module = pname.rsplit(".", 1)[0]
        found = layer_of(module)
        grouped[f"{found[0]}.{found[1]}" if found else module] += p.numel()
        if found and found[1] == 0:
            first_layer[pname] = {"shape": list(p.shape), "numel": p.numel()}
    buffers = []
    for mname, module in model.named_modules():
        for bname, b in module.named_buffers(recurse=False):
            buffers.append({"name": f"{mname}.{bname}" if mname else bname, "shape": list(b.shape),
                            "dtype": str(b.dtype), "numel": b.numel(),
                            "persistent": bname not in module._non_persistent_buffers_set})

    def numel(path):
        try:
            return sum(p.numel() for p in model.get_submodule(path).parameters())
        except AttributeError:
            return model.get_parameter(path).numel()

    return {
        "parameters": total,
        "parameters_if_untied": untied,
        "tied": tied,
        "buffers": buffers,
        "buffer_numel": sum(b["numel"] for b in buffers),
        "per_layer_or_module": dict(grouped),
        "components": {label: numel(path) for label, path in components.items()},
        "first_layer_parameters": first_layer,
    }


# ---------------------------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------------------------
def flops(model, kwargs, breakdown=True):
    """FlopCounterMode around one forward; returns total, per-operator and (filtered) per-module counts, output."""
    with FlopCounterMode(display=False) as counter:
        out = model(**kwargs)
    counts = counter.get_flop_counts()
    record = {"total": counter.get_total_flops(), "per_operator": {str(k): v for k, v in counts["Global"].items()}}
    if breakdown:
        root = type(model).__name__
        per_module = {}
        for mname, ops in counts.items():
            short = mname[len(root) + 1:] if mname.startswith(root + ".") else ("<root>" if mname == root else mname)
            if mname != "Global" and readable(short):
                per_module[short] = {str(k): v for k, v in ops.items()}
        record["per_module"] = per_module
    return record, out


class OpCounter(TorchDispatchMode):
    """Counts aten op calls (to show which code path ran, e.g. the sequential scan's per-step bmm)."""

    def __init__(self):
        super().__init__()
        self.calls = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


# ---------------------------------------------------------------------------------------------------------------
# Caches
# ---------------------------------------------------------------------------------------------------------------
def layer_tensors(layer):
    """Every tensor a cache layer object holds, by attribute name (dict-valued attributes as name[key])."""
    found = {}
    for key, value in vars(layer).items():
        if isinstance(value, torch.Tensor):
            found[key] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, torch.Tensor):
                    found[f"{key}[{k}]"] = v
    return found


def cache_report(cache):
    """Class, per-layer tensors (shape, dtype, bytes) and totals; distinct storages counted once."""
    sections = {}
    if isinstance(cache, cache_utils.EncoderDecoderCache):
        parts = {"self_attention_cache": cache.self_attention_cache, "cross_attention_cache": cache.cross_attention_cache}
    else:
        parts = {"cache": cache}
    storages = {}
    for label, part in parts.items():
        layers = []
        part_bytes = 0
        for i, layer in enumerate(part.layers):
            tensors = {}
            for key, t in layer_tensors(layer).items():
                nbytes = t.numel() * t.element_size()
                storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
                part_bytes += nbytes
                tensors[key] = {"shape": list(t.shape), "dtype": str(t.dtype), "bytes": nbytes}
            layers.append({"layer": i, "class": type(layer).__name__, "tensors": tensors})
        sections[label] = {"class": type(part).__name__, "bytes": part_bytes, "layers": layers}
    record = {"class": type(cache).__name__, **sections,
              "total_bytes": sum(s["bytes"] for s in sections.values()),
              "total_distinct_storage_bytes": sum(v for k, v in storages.items() if k)}
    if isinstance(cache, cache_utils.EncoderDecoderCache):
        record["is_updated"] = {str(k): v for k, v in cache.is_updated.items()}
    return record


# ---------------------------------------------------------------------------------------------------------------
# Saved for backward
# ---------------------------------------------------------------------------------------------------------------
def saved_report(model, kwargs, attribution=True):
    """Distinct non-parameter storages packed by saved_tensors_hooks in one train-mode forward."""
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    names = {module: name or "<root>" for name, module in model.named_modules()}
    stack = []
    seen = {}  # data_ptr -> (nbytes, owning module)
    packs = defaultdict(Counter)  # module -> Counter((shape, dtype, new)) of packed tensors

    def pack(tensor):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in params:
            return tensor
        module = stack[-1] if stack else "<outside>"
        new = ptr not in seen
        if new:
            seen[ptr] = (storage.nbytes(), module)
        packs[module][(tuple(tensor.shape), str(tensor.dtype), storage.nbytes() if new else 0)] += 1
        return tensor

    def enter(name):
        return lambda module, args: stack.append(name)  # returns None: inputs unchanged

    def leave(module, args, output):
        stack.pop()  # must return None, or it would replace the module's output

    hooks = []
    for module, name in names.items():
        hooks.append(module.register_forward_pre_hook(enter(name)))
        hooks.append(module.register_forward_hook(leave, always_call=True))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(**kwargs)
    finally:
        for h in hooks:
            h.remove()
    total = sum(nbytes for nbytes, _ in seen.values())
    record = {"bytes": total}
    if attribution:
        per_module, per_layer = Counter(), Counter()
        for nbytes, module in seen.values():
            per_module[module] += nbytes
            found = layer_of(module)
            per_layer[f"{found[0]}.{found[1]}" if found else "outside repeated layers"] += nbytes
        record["per_layer_totals"] = dict(per_layer)
        record["per_module"] = {
            module: {"bytes": per_module[module],
                     "packed": [{"shape": list(s), "dtype": d, "count": c, "new_storage_bytes_each": b}
                                for (s, d, b), c in counts.items()]}
            for module, counts in packs.items() if readable(module) or module in ("<root>", "<outside>")
        }
    del out
    model.eval()
    return record


# ---------------------------------------------------------------------------------------------------------------
# Model-specific inputs, decode steps and notes
# ---------------------------------------------------------------------------------------------------------------
def gen():
    return torch.Generator().manual_seed(0)


def t5_inputs(b, length=24, target=16):
    g = gen()
    return {"input_ids": torch.randint(0, 256, (b, length), generator=g),
            "decoder_input_ids": torch.randint(0, 256, (b, target), generator=g)}


def whisper_inputs(b, target=16):
    g = gen()
    return {"input_features": torch.randn(b, 16, 48, generator=g),
            "decoder_input_ids": torch.randint(0, 256, (b, target), generator=g)}


def mamba_inputs(b, length=32):
    return {"input_ids": torch.randint(0, 256, (b, length), generator=gen())}


def seq2seq_step(out):
    """Next decoder forward: one token per sequence, the cache, and the encoder output (encoder not rerun)."""
    return {"decoder_input_ids": out.logits[:, -1:].argmax(-1), "encoder_outputs": (out.encoder_last_hidden_state,),
            "cache": out.cache, "use_cache": True}


def mamba_step(out):
    return {"input_ids": out.logits[:, -1:].argmax(-1), "cache": out.cache, "use_cache": True}


SPECS = {
    "t5-small": {
        "inputs": t5_inputs,
        "sizes": {"B2_L24_T16": dict(b=2), "B1_L24_T16": dict(b=1)},
        "step": seq2seq_step,
        "components": {
            "shared_embedding (encoder/decoder embed_tokens and lm_head tied to it)": "shared",
            "encoder_layer_0 (holds the relative_attention_bias table)": "encoder.block.0",
            "encoder_layer_1 (no bias table)": "encoder.block.1",
            "encoder_self_attention q,k,v,o": "encoder.block.0.layer.0.SelfAttention",
            "encoder_relative_attention_bias": "encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
            "encoder_ffn (wi, wo)": "encoder.block.0.layer.1.DenseReluDense",
            "encoder_layer_norm (one)": "encoder.block.0.layer.0.layer_norm",
            "encoder_final_layer_norm": "encoder.final_layer_norm",
            "decoder_layer_0 (self-attn + bias table + cross-attn + ffn + 3 norms)": "decoder.block.0",
            "decoder_layer_1": "decoder.block.1",
            "decoder_self_attention": "decoder.block.0.layer.0.SelfAttention",
            "decoder_relative_attention_bias": "decoder.block.0.layer.0.SelfAttention.relative_attention_bias",
            "decoder_cross_attention (EncDecAttention, no bias table)": "decoder.block.0.layer.1.EncDecAttention",
            "decoder_ffn": "decoder.block.0.layer.2.DenseReluDense",
            "decoder_final_layer_norm": "decoder.final_layer_norm",
            "lm_head (tied to shared: counted once, under shared)": "lm_head",
        },
        "tied_check": lambda m: m.lm_head.weight is m.shared.weight,
        "quotes": lambda: {
            "cache_created_in_T5Stack.forward": quote(modeling_t5, "if use_cache and cache is None:", 5),
            "T5Attention.forward_cross_attention_cache": quote(modeling_t5, "is_updated = False", 26),
            "DynamicLayer.update (concatenates along the sequence)": quote(cache_utils, "self.keys = torch.cat([self.keys, key_states], dim=-2)", 3),
            "EncoderDecoderCache.__init__is_updated": quote(cache_utils, "self.is_updated = {}", 3),
            "T5Config: tie_word_embeddings forced True, lm scaling flag": quote(configuration_t5, "self.scale_decoder_outputs =", 2),
            "T5ForConditionalGeneration.forward lm scaling": quote(modeling_t5, "if self.config.scale_decoder_outputs:", 4),
        },
    },
    "openai/whisper-tiny": {
        "inputs": whisper_inputs,
        "sizes": {"B2_mel16x48_T16": dict(b=2), "B1_mel16x48_T16": dict(b=1)},
        "step": seq2seq_step,
        "components": {
            "encoder_conv1": "model.encoder.conv1",
            "encoder_conv2 (stride 2)": "model.encoder.conv2",
            "encoder_embed_positions (nn.Embedding parameter, requires_grad False, sinusoid init)": "model.encoder.embed_positions",
            "encoder_layer_0": "model.encoder.layers.0",
            "encoder_self_attention (k_proj has no bias)": "model.encoder.layers.0.self_attn",
            "encoder_ffn fc1": "model.encoder.layers.0.fc1",
            "encoder_ffn fc2": "model.encoder.layers.0.fc2",
            "encoder_layer_norm (one, with bias)": "model.encoder.layers.0.self_attn_layer_norm",
            "encoder_final_layer_norm": "model.encoder.layer_norm",
            "decoder_embed_tokens": "model.decoder.embed_tokens",
            "decoder_embed_positions (learned)": "model.decoder.embed_positions",
            "decoder_layer_0 (self-attn + cross-attn + ffn + 3 norms)": "model.decoder.layers.0",
            "decoder_self_attention": "model.decoder.layers.0.self_attn",
            "decoder_cross_attention (encoder_attn)": "model.decoder.layers.0.encoder_attn",
            "decoder_final_layer_norm": "model.decoder.layer_norm",
            "proj_out (lm head, tied to decoder embed_tokens: counted once, under embed_tokens)": "proj_out",
        },
        "tied_check": lambda m: m.proj_out.weight is m.model.decoder.embed_tokens.weight,
        "quotes": lambda: {
            "cache_created_in_WhisperDecoder.forward": quote(modeling_whisper, "decoder_cache_config = copy.deepcopy(self.config)", 9),
            "WhisperAttention.forward_cross_attention_cache": quote(modeling_whisper, "is_updated = False", 23),
            "DynamicLayer.update (concatenates along the sequence)": quote(cache_utils, "self.keys = torch.cat([self.keys, key_states], dim=-2)", 3),
            "WhisperEncoder.forward input length check": quote(modeling_whisper, "expected_seq_length = self.config.max_source_positions", 1),
        },
    },
    "state-spaces/mamba-130m-hf": {
        "inputs": mamba_inputs,
        "sizes": {"B2_L32": dict(b=2), "B1_L32": dict(b=1), "B2_L24": dict(b=2, length=24)},
        "step": mamba_step,
        "components": {
            "embeddings (lm_head tied to it)": "backbone.embeddings",
            "layer_0 (norm + mixer)": "backbone.layers.0",
            "layer_0.norm (RMSNorm)": "backbone.layers.0.norm",
            "mixer.in_proj": "backbone.layers.0.mixer.in_proj",
            "mixer.conv1d (depthwise, with bias)": "backbone.layers.0.mixer.conv1d",
            "mixer.x_proj": "backbone.layers.0.mixer.x_proj",
            "mixer.dt_proj (with bias)": "backbone.layers.0.mixer.dt_proj",
            "mixer.A_log": "backbone.layers.0.mixer.A_log",
            "mixer.D": "backbone.layers.0.mixer.D",
            "mixer.out_proj": "backbone.layers.0.mixer.out_proj",
            "norm_f": "backbone.norm_f",
            "lm_head (tied: counted once, under embeddings)": "lm_head",
        },
        "tied_check": lambda m: m.lm_head.weight is m.backbone.embeddings.weight,
        "quotes": lambda: {
            "cache_created_in_MambaModel.forward": quote(modeling_mamba, "if use_cache and cache is None:", 2),
            "MambaConfig time_step_rank auto": quote(configuration_mamba, "self.time_step_rank = (", 3),
            "MambaMixer.forward training fast path (mamba_inner_fn is a stub returning None without mamba_ssm)": quote(modeling_mamba, "if self.training and cache is None:", 20),
            "MambaMixer.forward conv state": quote(modeling_mamba, "# 2. Convolution sequence transformation", 27),
            "MambaMixer.forward ssm state": quote(modeling_mamba, "# Recurrent form", 36),
            "mamba_selective_scan sequential loop (the CPU path)": quote(modeling_mamba, "# Recurrent iteration", 21),
            "mamba_selective_state_update (decode step)": quote(modeling_mamba, "dA = torch.exp(dt.float()[..., None] * A.float())", 22),
            "LinearAttentionLayer.lazy_initialization (fixed-size states)": quote(cache_utils, "conv_kernel_size = conv_states.shape[-1] if conv_kernel_size is None", 20),
            "LinearAttentionLayer.update_conv_state keeps the last conv_kernel_size columns": quote(cache_utils, "# Usually, keep only the last `conv_kernel_size` tokens", 4),
            "LinearAttentionLayer.update_recurrent_state": quote(cache_utils, "# Note that we copy instead of assigning, to preserve the static address for cudagraphs", 2),
            "use_kernel_func_from_hub_with_fallback priority": quote(sys.modules["transformers.integrations.hub_kernels"], "The order of priority is", 4),
        },
    },
}


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def mamba_path(model, inputs):
    """Which code path the small Mamba runs on CPU: fallbacks logged by transformers, and aten call counts."""
    import importlib.util

    available = {pkg: importlib.util.find_spec(pkg) is not None for pkg in ("mamba_ssm", "causal_conv1d", "mambapy", "kernels")}
    mixer = model.backbone.layers[0].mixer
    record = {
        "packages_available": available,
        "MambaMixer has slow_forward / cuda_kernels_forward": [hasattr(mixer, "slow_forward"), hasattr(mixer, "cuda_kernels_forward")],
        "use_mambapy": mixer.use_mambapy,
        "use_associative_scan (config; only taken while torch.compile/dynamo is tracing)": mixer.use_associative_scan,
    }
    calls = {}
    for mode, grad in (("eval_no_grad", False), ("train", True)):
        model.train(grad)
        with torch.set_grad_enabled(grad):
            x = model.backbone.layers[0].norm(model.backbone.embeddings(inputs["input_ids"]))
            counter = OpCounter()
            with counter:
                mixer(x)
        calls[mode] = dict(sorted(counter.calls.items()))
    model.eval()
    record["aten_calls_in_one_mixer_forward (B, L) = " + str(tuple(inputs["input_ids"].shape))] = calls
    record["summary"] = (
        "No mamba_ssm / causal_conv1d / kernels on this machine, so every kernel-backed function resolves to its "
        "torch reference (transformers.integrations.hub_kernels.use_kernel_func_from_hub_with_fallback). "
        "MambaMixer.forward: in training with no cache, mamba_inner_fn (the torch stub) returns None and the "
        "forward falls through; causal_conv1d_fn = F.conv1d (depthwise, padding conv_kernel-1, sliced to L) + SiLU; "
        "mamba_selective_scan materialises discrete_A and deltaB_u of shape (B, d_inner, L, N), then, as "
        "use_mambapy is False and no dynamo tracing is active, runs the sequential Python loop over L "
        "(one aten.bmm (B, d_inner, N) @ (B, N, 1) per step, see aten call counts); decode (L = 1 with a cache) uses "
        "causal_conv1d_update and mamba_selective_state_update. transformers 5.x has no MambaMixer.slow_forward / "
        "cuda_kernels_forward any more: this single forward is the torch path."
    )
    return record


# ---------------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------------
def measure(name):
    spec = SPECS[name]
    full_model, full_config = build(name, small=False, device="meta")
    full = {"config_keys_set": FULL_CONFIGS[name], "config": full_config.to_dict(),
            "lm_head_tied": spec["tied_check"](full_model), "known_parameters": KNOWN_PARAMS[name],
            **param_report(full_model, spec["components"])}
    del full_model

    model, config = build(name, small=True, device="cpu")
    model.eval()
    small = {"config_keys_set": {**SMALL_CONFIGS[name], "attn_implementation": "eager"}, "config": config.to_dict(),
             "attn_implementation": model.config._attn_implementation, "lm_head_tied": spec["tied_check"](model),
             **param_report(model, spec["components"]), "sizes": {}}
    if name == "state-spaces/mamba-130m-hf":
        small["time_step_rank_resolved"] = config.time_step_rank
        small["intermediate_size_resolved"] = config.intermediate_size
        small["cpu_forward_path"] = mamba_path(model, mamba_inputs(2))

    for label, size in spec["sizes"].items():
        primary = label == next(iter(spec["sizes"]))
        inputs = spec["inputs"](**size)
        entry = {"inputs": {k: list(v.shape) for k, v in inputs.items()}}
        with torch.no_grad():
            entry["forward_flops"], _ = flops(model, {**inputs, "use_cache": False}, breakdown=primary)
            out = model(**inputs, use_cache=True)
            entry["cache_after_forward"] = cache_report(out.cache)
            step = spec["step"](out)
            entry["decode_step_inputs"] = {k: (list(v.shape) if isinstance(v, torch.Tensor) else
                                               [list(t.shape) for t in v] if isinstance(v, tuple) else type(v).__name__)
                                           for k, v in step.items()}
            entry["decode_step_flops"], out2 = flops(model, step, breakdown=primary)
            entry["cache_after_decode_step"] = cache_report(out2.cache)
        entry["saved_for_backward"] = saved_report(model, {**inputs, "use_cache": False}, attribution=primary)
        small["sizes"][label] = entry
    small["source_quotes"] = spec["quotes"]()
    return {"model_class": CLASSES[name][1].__name__, "full": full, "small": small}


def main():
    handler = Captured()  # transformers' warnings, e.g. which kernel functions fall back to torch
    logging.getLogger("transformers").addHandler(handler)
    models = {name: measure(name) for name in SPECS}
    mamba_path_record = models["state-spaces/mamba-130m-hf"]["small"]["cpu_forward_path"]
    mamba_path_record["transformers_fallback_warnings (whole run)"] = [m for m in handler.messages if "falling back" in m]
    models["t5-small"]["notes"] = T5_NOTES
    models["openai/whisper-tiny"]["notes"] = WHISPER_NOTES
    models["state-spaces/mamba-130m-hf"]["notes"] = MAMBA_NOTES
    source = (
        f"Measured by tests/reference/measure_seq2seq_ssm.py with PyTorch {torch.__version__} (CPU, float32) and "
        f"transformers {transformers.__version__}, {datetime.date.today().isoformat()}: configs built in code "
        "(no hub access), full-size models on the meta device, small instances real (seed 0, dropout 0, eager "
        "attention); FLOPs from torch.utils.flop_counter.FlopCounterMode (matmul/conv ops only); saved bytes = "
        "distinct non-parameter storages packed by torch.autograd.graph.saved_tensors_hooks in one train-mode "
        "forward to the logits."
    )
    print(json.dumps({"source": source, "models": models}, indent=1))


# Observations from the measured figures (checked by hand against closed forms; small sizes as in SMALL_CONFIGS).
T5_NOTES = [
    "transformers 5.24 renamed past_key_values to cache (deprecated alias until 5.40); outputs carry .cache.",
    "T5Config.__post_init__ forces tie_word_embeddings=True for every T5 and only keeps the passed value as the "
    "scale_decoder_outputs flag (scale the decoder output by d_model**-0.5 before lm_head): lm_head is always tied "
    "to shared here, so 60,506,624 counts the 32128 x 512 table once (109,855,232 if encoder/decoder embed_tokens "
    "and lm_head were counted separately). No buffers at all.",
    "The relative_attention_bias table (num_buckets x num_heads = 32 x 8 = 256 params in t5-small) exists only in "
    "layer 0 of each stack (encoder block 0: 3,147,008, others 3,146,752; decoder block 0: 4,196,096, others "
    "4,195,840); the other layers reuse its position_bias. Cross-attention (EncDecAttention) has no table: its "
    "position_bias is a zeros (1, H, T, L_enc) tensor. Attention has no 1/sqrt(d_kv) scaling (scaling = 1.0).",
    "Forward FLOPs (B=2, L=24, T=16) = 15,400,960 = mm 14,155,776 (2 * tokens * weights of every projection, the "
    "cross-attention k/v on the L encoder tokens, lm_head 2*B*T*d*V) + bmm 1,245,184 (QK^T and AV: 4*B*H*Lq*Lk*d_kv "
    "per attention); exactly linear in B (B=1: 7,700,480).",
    "Cache: EncoderDecoderCache(self_attention_cache=DynamicCache, cross_attention_cache=DynamicCache), one "
    "DynamicLayer per decoder layer in each. Cross-attention K and V are stored once per decoder layer (each layer "
    "has its own k/v projections) as (B, H, L_enc, d_kv), computed on the first decoder call and flagged by "
    "is_updated[layer]; later calls read them back (no k/v FLOPs in the decode step). B=2: self 2 x 2 x (2,4,16,16) "
    "fp32 = 32,768 B, cross 2 x 2 x (2,4,24,16) = 49,152 B, total 81,920; after one step self grows to 17 positions "
    "(34,816), cross unchanged: 83,968.",
    "Decode step (B=2, P=16): 435,200 FLOPs = mm 393,216 (q,k,v,o + cross q,o + FFN per layer on 2 tokens, lm_head) "
    "+ bmm 41,984 (self: 4*B*H*(P+1)*d_kv, cross: 4*B*H*L_enc*d_kv per layer).",
    "Saved for backward is not exactly linear in B: 388,832 (B=1) vs 771,008 (B=2); 2*388,832 - 771,008 = 6,656 = "
    "the int64 relative-position bucket index saved by each stack's relative_attention_bias embedding, (L x L) and "
    "(T x T) x 8 bytes = 4,608 + 2,048, independent of B. Decoder block 0 saves 14,336 B more than block 1: the "
    "encoder output (first packed by block 0's EncDecAttention.k) and the bucket index.",
]
WHISPER_NOTES = [
    "Full parameter count 37,760,640 matches the known figure; it includes the encoder's sinusoidal "
    "embed_positions (1500 x 384 = 576,000), which is an nn.Embedding parameter with requires_grad False, and the "
    "learned decoder embed_positions (448 x 384 = 172,032). proj_out is tied to decoder.embed_tokens (51865 x 384 "
    "counted once; 57,676,800 untied). k_proj has no bias (q/v/out_proj do). No buffers.",
    "The encoder rejects any mel length other than 2 * max_source_positions (conv2 has stride 2), so the small "
    "model's input is exactly (B, 16, 48) -> 24 encoder positions.",
    "Forward FLOPs (B=2) 17,170,432 = T5's small forward (same d_model/heads/ffn/vocab/lengths) + the conv front-end "
    "1,769,472 (conv1 2*B*48*64*16*3 = 589,824, conv2 2*B*24*64*64*3 = 1,179,648); biased linears show as addmm, "
    "k_proj and proj_out as mm.",
    "Cache and decode step are identical to T5's small figures (81,920 B -> 83,968 B; 435,200 FLOPs) because the "
    "shapes are the same: cross-attention K/V once per decoder layer, (B, H, L_enc, head_dim), reused via "
    "is_updated. Unlike T5, WhisperAttention sets is_updated[layer] = True before it computes K/V on the first call.",
    "Saved for backward is exactly linear in B (398,400 / 796,800). The GELUs after conv1/conv2 are functional "
    "calls in WhisperEncoder.forward, so their saved inputs are charged to model.encoder; nn.LayerNorm saves input, "
    "mean and rstd; fc2 saves the GELU output while GELU saves fc1's output (two (tokens, ffn) tensors, where T5's "
    "ReLU shares one).",
]
MAMBA_NOTES = [
    "time_step_rank 'auto' becomes ceil(hidden_size / 16): 4 for the small model (48 for mamba-130m, set "
    "explicitly in its config.json). intermediate_size = expand * hidden_size (128 small, 1536 full).",
    "Full: 129,135,360 parameters (embeddings 38,615,040 tied to lm_head; 24 x 3,771,648 per layer; norm_f 768). "
    "No buffers: A_log and D are parameters.",
    "On CPU without mamba_ssm / causal_conv1d / kernels every kernel-backed function is its torch reference; "
    "MambaMixer has a single forward (no slow_forward / cuda_kernels_forward in transformers 5.x). The selective "
    "scan is a Python loop over L with one bmm per step (aten.bmm called L = 32 times per mixer forward); "
    "use_associative_scan=True in the config is inert outside torch.compile tracing.",
    "FlopCounterMode sees only in_proj, x_proj, the dt_proj matmul (done as weight @ x in the mixer, so charged to "
    "the mixer, not dt_proj), out_proj, lm_head (mm), the depthwise conv (convolution) and the per-step C readout "
    "(bmm, 2*B*d_inner*N per token). The discretisation and state update (exp, multiplies, adds over "
    "B*d_inner*L*N) are element-wise and count zero.",
    "The depthwise conv is computed with padding K-1 on both sides and then sliced, so FlopCounterMode charges "
    "L+K-1 = 35 output positions (2*B*35*d_inner*K = 71,680 per layer at B=2), not L. In the decode step the "
    "cached K=4 columns are concatenated with the new one and conv1d yields 2 outputs of which 1 is kept.",
    "Cache: a DynamicCache (no MambaCache class any more) whose layers are LinearAttentionLayer objects, each "
    "holding conv_states[0] (B, d_inner, conv_kernel) and recurrent_states[0] (B, d_inner, state_size), fp32, "
    "allocated once and updated in place with copy_: 24,576 B at B=2 for L=32 and L=24 alike, unchanged by the "
    "decode step. conv_states keeps K = 4 columns (not K-1).",
    "Saved for backward: 1,188,480 (B=1, L=32), 2,426,112 (B=2, L=32), 1,829,312 (B=2, L=24). Per layer the scan "
    "saves discrete_A and discrete_B, both (B, d_inner, L, N), plus the running state h_t (B, d_inner, N) at each "
    "of the L steps (L+1 storages incl. the zero initial state), i.e. about 3 x B*d_inner*L*N*4 bytes, which "
    "dominates (794,624 of the 1,188,096 B charged to each layer at B=2, L=32).",
    "Saved bytes grow faster than B: 2 x 1,188,480 = 2,376,960 < 2,426,112. The x_proj input is a transposed view "
    "of the conv/SiLU output; at B=1 it can be passed to the matmul as a strided 2-D view (the same storage the "
    "scan later saves), at B=2 the reshape makes a contiguous copy, so both the copy and the original "
    "(B*d_inner*L*4 = 32,768 B per layer) are saved. The batch-independent A = -exp(A_log) tensors (2 x 4,096 B per "
    "layer) go the other way: 2 x 32,768 - 2 x 8,192 = 49,152.",
]

if __name__ == "__main__":
    main()
