"""Today's language models against HuggingFace transformers, measured with PyTorch.

Expected figures come from tests/reference/llm_decoders_measured.json and
seq2seq_ssm_measured.json (measure_llm_decoders.py and measure_seq2seq_ssm.py: torch 2.13.0,
transformers 5.24.0): parameters of the full-size models on the meta device, and for a
small real instance of each architecture FlopCounterMode's forward FLOPs (eager attention
and experts), the bytes of the KV cache (or state) after a forward pass, the FLOPs of one
decode step, and the bytes autograd saves for backward. Each small instance is the zoo
spec with its params re-bound to the instance's config (SMALL below, named by the HF key).
"""

import json

import pytest
import yaml

import archspec
from archspec.memory import MemoryOptions, memory
from tests.conftest import ROOT, SPECS

REFERENCE = ROOT / "tests" / "reference"
DECODERS = json.loads((REFERENCE / "llm_decoders_measured.json").read_text())["models"]
OTHERS = json.loads((REFERENCE / "seq2seq_ssm_measured.json").read_text())["models"]

# spec -> (its params for the measured small instance, the HF config keys they stand for)
DECODER_SMALL = dict(vocab=256, d_model=64, n_layer=2, n_head=4, n_kv_head=2, head_dim=16, d_ff=128)  # vocab_size, hidden_size, ...
DEEPSEEK_SMALL = dict(vocab=256, d_model=64, n_layer=3, first_dense=1, n_head=4, kv_lora_rank=32, qk_nope_head_dim=16,
                      qk_rope_head_dim=8, v_head_dim=16, d_ff=128, moe_d_ff=32, n_experts=8, top_k=2)
SMALL = {
    "mistral_7b": {**DECODER_SMALL, "window": 16},
    "mixtral_8x7b": {**DECODER_SMALL, "n_experts": 4, "top_k": 2},
    "qwen2_7b": DECODER_SMALL,
    "gemma2_9b": {**DECODER_SMALL, "head_dim": 32, "window": 16},
    "deepseek_v2_lite": {**DEEPSEEK_SMALL, "n_shared": 2},
    "deepseek_v3": {**DEEPSEEK_SMALL, "q_lora_rank": 24, "n_shared": 1, "n_group": 2, "topk_group": 1},
    "t5_small": dict(vocab=256, d_model=64, d_kv=16, d_ff=128, n_layer=2, n_decoder_layer=2, n_head=4),
    "whisper_tiny": dict(vocab=256, d_model=64, d_ff=128, n_layer=2, n_decoder_layer=2, n_head=4, n_mels=16, max_target_positions=32),
    "mamba_130m": dict(vocab=256, d_model=64, n_layer=2, d_state=8),
}
HF_NAME = {"t5_small": "t5-small", "whisper_tiny": "openai/whisper-tiny", "mamba_130m": "state-spaces/mamba-130m-hf"}


def measured(spec: str) -> dict:
    return DECODERS[spec] if spec in DECODERS else OTHERS[HF_NAME[spec]]


# ---- full-size params and active params (meta device) -----------------------------------
FULL = [(spec, measured(spec)["full"]) for spec in SMALL]


@pytest.mark.parametrize("spec, full", FULL, ids=[s for s, _ in FULL])
def test_params_and_active_params_equal_the_hf_model(spec, full):
    totals = archspec.analyze(SPECS / f"{spec}.yaml").totals
    assert totals["params"] == full.get("params", full.get("parameters"))
    assert totals["active_params"] == full.get("active_params", totals["params"])


def test_mixtral_has_the_published_active_params():
    # the figures: 46,702,792,704 params, 12,879,925,248 active (2 of 8 experts)
    totals = archspec.analyze(SPECS / "mixtral_8x7b.yaml").totals
    assert (totals["params"], totals["active_params"]) == (46_702_792_704, 12_879_925_248)


# ---- small instances: the cases measured, by spec -----------------------------------------
def _sizes(spec: str, key: str) -> dict:
    """B2_L24_T16 -> {B: 2, L: 24, T: 16}; Whisper's mel16x48 -> S = 24 audio positions."""
    sizes = {}
    for part in key.split("_"):
        if part.startswith("mel"):
            sizes["S"] = int(part.split("x")[1]) // 2
        else:
            sizes[part[0]] = int(part[1:])
    return sizes


FLOP_CASES = [
    *((spec, {"B": int(k[1]), "L": int(k.split("_L")[1])}, v["total"]) for spec in DECODERS for k, v in DECODERS[spec]["small"]["forward_flops"].items()),
    *((spec, _sizes(spec, k), v["forward_flops"]["total"]) for spec in HF_NAME for k, v in OTHERS[HF_NAME[spec]]["small"]["sizes"].items()),
]


@pytest.mark.parametrize("spec, sizes, flops", FLOP_CASES, ids=[f"{s}-{'-'.join(f'{k}{v}' for k, v in z.items())}" for s, z, _ in FLOP_CASES])
def test_forward_flops_equal_flopcountermode(spec, sizes, flops):
    report = archspec.analyze(SPECS / f"{spec}.yaml", convention="flopcounter", **SMALL[spec], **sizes)
    assert report.totals["flops"] == flops


def _cache_cases():
    for spec in DECODERS:
        for key, cache in DECODERS[spec]["small"]["kv_cache"].items():
            if not key.startswith("B"):
                continue  # a note, not a measurement
            b, length = (int(part[1:]) for part in key.split("_"))
            yield spec, {"B": b, "L": length}, cache["key_value_bytes"]
    for spec in HF_NAME:
        for key, size in OTHERS[HF_NAME[spec]]["small"]["sizes"].items():
            yield spec, _sizes(spec, key), size["cache_after_forward"]["total_bytes"]


CACHE_CASES = list(_cache_cases())


@pytest.mark.parametrize("spec, sizes, cache_bytes", CACHE_CASES, ids=[f"{s}-{'-'.join(f'{k}{v}' for k, v in z.items())}" for s, z, _ in CACHE_CASES])
def test_kv_cache_equals_the_hf_cache_object(spec, sizes, cache_bytes):
    # float32 keys and values (or latents, or Mamba's conv and SSM states); HF's sliding
    # window cache keeps W - 1 tokens (cache_utils.DynamicSlidingWindowLayer)
    report = archspec.analyze(SPECS / f"{spec}.yaml", **SMALL[spec], **sizes)
    assert memory(report, MemoryOptions(training=False)).totals["kv_cache"] == cache_bytes


def _decode_cases():
    for spec in DECODERS:
        for key, step in DECODERS[spec]["small"]["decode"].items():
            yield spec, {"B": 2, "P": step["prefill"]}, step["flops"]["total"], None
    for spec in HF_NAME:
        for key, size in OTHERS[HF_NAME[spec]]["small"]["sizes"].items():
            sizes = _sizes(spec, key)
            yield spec, sizes, size["decode_step_flops"]["total"], size["cache_after_decode_step"]["total_bytes"]


DECODE_CASES = list(_decode_cases())


@pytest.mark.parametrize("spec, sizes, flops, cache_after", DECODE_CASES, ids=[f"{s}-{'-'.join(f'{k}{v}' for k, v in z.items())}" for s, z, _, _ in DECODE_CASES])
def test_a_decode_step_costs_what_flopcountermode_counts(spec, sizes, flops, cache_after):
    # one token per sequence against the cache of a prefill of P tokens (P defaults to the
    # decoded length's value: T for the encoder-decoders, as measured)
    report = archspec.analyze(SPECS / f"{spec}.yaml", convention="flopcounter", decode=True, **SMALL[spec], **sizes)
    assert report.totals["flops"] == flops
    if cache_after is not None:
        assert memory(report, MemoryOptions(training=False)).totals["kv_cache"] == cache_after


# ---- saved for backward: the small instances, HF's eager attention ----------------------
def with_eager_kernels(spec: str) -> dict:
    """The spec as the measurement ran it: eager attention (HF attn_implementation="eager"),
    and Mamba's torch reference path (no mamba_ssm kernels on the measuring machine)."""
    data = yaml.safe_load((SPECS / f"{spec}.yaml").read_text())
    for layers in [data["layers"], *(block["layers"] for block in data.get("blocks", {}).values())]:
        for layer in layers:
            if isinstance(layer, dict) and layer.get("type") in ("Attention", "LatentAttention"):
                layer["kernel"] = "eager"
            if isinstance(layer, dict) and layer.get("type") == "Mamba":
                layer["kernel"] = "torch"
    return data


# Where HF's code keeps a tensor archspec's layers do not model, the difference is stated
# exactly: Gemma 2 multiplies the embeddings by a 0-dim float32 tensor that the multiply
# keeps (4 bytes); DeepSeek-V2 keeps its rotary table as complex64 numbers, half the bytes
# of the real cos and sin tables (2 * L * rope_dim / 2 * 4 = 1,024 bytes at L = 32).
SAVED_EXCEPTIONS = {"gemma2_9b": -4, "deepseek_v2_lite": 1024}


def _saved_cases():
    for spec in DECODERS:
        for key, case in DECODERS[spec]["small"]["saved_for_backward"].items():
            b, length = (int(part[1:]) for part in key.split("_"))
            yield spec, {"B": b, "L": length}, case["bytes"]
    for spec in HF_NAME:
        for key, size in OTHERS[HF_NAME[spec]]["small"]["sizes"].items():
            yield spec, _sizes(spec, key), size["saved_for_backward"]["bytes"]


SAVED_CASES = list(_saved_cases())


@pytest.mark.parametrize("spec, sizes, saved", SAVED_CASES, ids=[f"{s}-{'-'.join(f'{k}{v}' for k, v in z.items())}" for s, z, _ in SAVED_CASES])
def test_saved_activations_equal_pytorchs_saved_tensors(spec, sizes, saved):
    report = archspec.analyze(with_eager_kernels(spec), **SMALL[spec], **sizes)
    assert memory(report, MemoryOptions(training=True)).totals["saved_activations"] == saved + SAVED_EXCEPTIONS.get(spec, 0)
