"""Mamba's mixer against HF's weight shapes and an operation count of its recurrence."""

import json

from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.memory import MemoryOptions, memory
from tests.conftest import ROOT
from tests.helpers import analyze_one

MEASURED = json.loads((ROOT / "tests" / "reference" / "seq2seq_ssm_measured.json").read_text())["models"]

SILU = 4  # sigmoid (exp, add 1, reciprocal) and a multiply, as archspec's SiLU
SOFTPLUS = 4  # compare with the threshold, exp, add 1, log


def test_params_are_hf_mixer_weights():
    weights = MEASURED["state-spaces/mamba-130m-hf"]["small"]["first_layer_parameters"]
    mixer = sum(w["numel"] for name, w in weights.items() if ".mixer." in name)
    assert analyze_one([1, 8, 64], {"type": "Mamba", "d_state": 8}).params == mixer


def counted_ops(batch, length, width, d_state, d_conv, expand, rank):
    """MACs and other FLOPs of one forward pass, counted operation by operation."""
    inner = expand * width
    macs = flops = 0
    for _ in range(batch):
        for _ in range(length):
            macs += 2 * inner * width  # in_proj: x and z branches
            macs += inner * d_conv  # the causal depthwise conv, one tap per input held
            flops += inner  # conv bias
            flops += SILU * inner  # SiLU(x)
            macs += (rank + 2 * d_state) * inner  # x_proj -> dt, B, C
            macs += inner * rank  # dt_proj
            flops += inner  # dt_proj's bias
            flops += SOFTPLUS * inner  # softplus(dt)
            for _ in range(inner):
                for _ in range(d_state):
                    flops += 1 + 1  # dt * A, exp
                    flops += 1 + 1  # dt * B, times x
                    flops += 1 + 1  # h * exp(dt A) + that
                    macs += 1  # y += C . h
                flops += 2  # + D * x
                flops += SILU + 1  # * SiLU(z)
            macs += inner * width  # out_proj
    flops += 2 * inner * d_state  # A = -exp(A_log), once
    return macs, flops


@given(st.integers(1, 2), st.integers(1, 6), st.sampled_from([4, 8]), st.integers(1, 4), st.sampled_from([2, 4]), st.integers(1, 3))
def test_macs_and_flops_equal_an_operation_count(batch, length, width, d_state, d_conv, expand):
    rank = -(-width // 16)
    row = analyze_one([batch, length, width], {"type": "Mamba", "d_state": d_state, "d_conv": d_conv, "expand": expand})
    macs, other = counted_ops(batch, length, width, d_state, d_conv, expand, rank)
    assert (row.macs, row.flops) == (macs, 2 * macs + other)


def test_the_inference_state_does_not_grow_with_the_length():
    for length in (1, 10, 1000):
        row = analyze_one([3, length, 16], {"type": "Mamba", "d_state": 5, "d_conv": 4})
        assert row.kv_cache == 3 * 32 * (4 + 5)  # conv state and SSM state per channel


def test_the_torch_path_keeps_every_state_of_the_scan():
    def saved(length, kernel):
        spec = {"inputs": {"x": {"shape": [2, length, 8]}}, "layers": [{"type": "Mamba", "d_state": 4, "kernel": kernel}]}
        return memory(archspec.analyze(spec), MemoryOptions()).totals["saved_activations"]

    # one more step keeps one more state per channel and state (and per token tensors) on the torch path
    states = 2 * 16 * 4 * 4  # batch, d_inner, d_state, float32
    assert saved(11, "torch") - saved(10, "torch") > states
    assert saved(10, "fused") < saved(10, "torch")
