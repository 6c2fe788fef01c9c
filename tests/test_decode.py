"""The decode step (archspec.engine, analyze(decode=True)): one new token per sequence
against P cached tokens, checked against closed forms written here from the model's shape."""

import json
import subprocess
import sys

import pytest

import archspec
from archspec.dims import evaluate_at
from archspec.errors import SpecError
from archspec.memory import MemoryOptions, decode_traffic, memory
from tests.conftest import SPECS


def llama_decode_macs(batch, past, vocab=32000, d=4096, layers=32, heads=32, kv_heads=32, d_ff=11008):
    """Per new token: every matmul weight once, and the attention's two products over P + 1 keys."""
    head_dim = d // heads
    weights = layers * (2 * d * d + 2 * d * kv_heads * head_dim + 3 * d * d_ff) + vocab * d
    attention = layers * heads * 2 * head_dim * (past + 1)
    return batch * (weights + attention)


@pytest.mark.parametrize("batch, past", [(1, 0), (1, 4095), (8, 100)])
def test_a_dense_decoder_step_reads_each_weight_once_and_attends_to_the_cache(batch, past):
    report = archspec.analyze(SPECS / "llama2_7b.yaml", decode=True, B=batch, P=past)
    assert report.totals["macs"] == llama_decode_macs(batch, past)
    kv = memory(report, MemoryOptions(training=False, dtype="bf16")).totals["kv_cache"]
    assert kv == 32 * 2 * 4096 * 2 * batch * (past + 1)  # layers, K and V, d_model, bytes, tokens after the step


def test_decode_formulas_in_batch_and_past_equal_bound_steps():
    free = archspec.analyze(SPECS / "mistral_7b.yaml", decode=True, B=None, P=None)
    options = MemoryOptions(training=False, dtype="bf16")
    free_memory = memory(free, options)
    for batch, past in [(1, 10), (4, 4094), (2, 4095), (3, 50000)]:
        bound = archspec.analyze(SPECS / "mistral_7b.yaml", decode=True, B=batch, P=past)
        assert evaluate_at(free.totals["macs"], {"B": batch, "P": past}) == bound.totals["macs"]
        bound_memory = memory(bound, options)
        for key, value in free_memory.decode.items():
            assert evaluate_at(value, {"B": batch, "P": past}) == bound_memory.decode[key], key


def test_a_sliding_window_caps_what_a_step_reads_and_keeps():
    def cache(past):
        report = archspec.analyze(SPECS / "mistral_7b.yaml", decode=True, B=1, P=past)
        return memory(report, MemoryOptions(training=False, dtype="bf16")).totals["kv_cache"]

    per_token = 32 * 2 * 8 * 128 * 2  # layers, K and V, kv heads, head dim, bf16
    assert cache(100) == 101 * per_token
    assert cache(4095) == cache(10**6) == 4095 * per_token  # W - 1 tokens, as HF's sliding cache


def test_the_encoder_does_not_run_in_a_decode_step():
    prefill = archspec.analyze(SPECS / "t5_small.yaml", T=1)
    step = archspec.analyze(SPECS / "t5_small.yaml", decode=True, P=0)
    encoder = [row for row in step.layers if row.name.startswith(("encoder", "shared"))]
    assert encoder and all(row.idle and row.macs == 0 for row in encoder)
    assert step.totals["params"] == prefill.totals["params"]  # the weights are all still there
    # the cross-attention reads the memory's K and V from the cache: no K and V projections
    cross = [row for row in step.layers if row.name.endswith("cross_attention")][0]
    full = [row for row in prefill.layers if row.name.endswith("cross_attention")][0]
    assert full.macs - cross.macs == 2 * 512 * 512 * 512  # L=512 memory positions, d_model in, H*d_kv out, K and V


def test_decode_needs_the_length_param():
    spec = {"params": {"B": 1}, "inputs": {"x": {"shape": ["B", 8, 4]}}, "layers": [{"type": "Linear", "out_features": 2}]}
    with pytest.raises(SpecError, match="binds the generated sequence's length 'L' to 1"):
        archspec.analyze(spec, decode=True)


def run(*args):
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True)


def test_fit_solves_for_the_batch_or_the_cache_length_while_decoding():
    result = run("fit", str(SPECS / "llama3_8b.yaml"), "--decode", "--for", "B", "--memory", "80GiB", "--dtype", "bf16",
                 "--set", "P=8192", "--format", "json")
    data = json.loads(result.stdout)
    at = lambda b: memory(archspec.analyze(SPECS / "llama3_8b.yaml", decode=True, B=b, P=8192), MemoryOptions(training=False, dtype="bf16")).totals["inference_total"]  # noqa: E731
    assert at(data["value"]) <= 80 * 2**30 < at(data["value"] + 1)
    longest = json.loads(run("fit", str(SPECS / "llama3_8b.yaml"), "--decode", "--for", "P", "--memory", "24GiB",
                             "--dtype", "bf16", "--set", "B=4", "--format", "json").stdout)["value"]
    at = lambda p: memory(archspec.analyze(SPECS / "llama3_8b.yaml", decode=True, B=4, P=p), MemoryOptions(training=False, dtype="bf16")).totals["inference_total"]  # noqa: E731
    assert at(longest) <= 24 * 2**30 < at(longest + 1)


def test_memory_decode_reports_the_bytes_a_step_reads():
    data = json.loads(run("memory", str(SPECS / "mixtral_8x7b.yaml"), "--decode", "--dtype", "bf16", "--set", "B=1",
                          "--set", "P=1000", "--format", "json").stdout)
    totals = archspec.analyze(SPECS / "mixtral_8x7b.yaml").totals
    assert data["decode"]["weights_read"] == 2 * totals["active_params"]  # one token: its 2 experts of 8
    assert data["decode"]["kv_cache_read"] == 32 * 2 * 8 * 128 * 2 * 1000
    step = archspec.analyze(SPECS / "mixtral_8x7b.yaml", decode=True, B=1, P=1000)
    assert data["decode"]["bytes_read"] == sum(decode_traffic(step, MemoryOptions(training=False, dtype="bf16"))[k] for k in ("weights_read", "kv_cache_read"))
