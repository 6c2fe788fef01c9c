"""Roofline bounds (archspec/timing/roofline.py): properties against their definitions."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.hardware import get_device
from archspec.timing import Efficiency, roofline
from tests.conftest import SPECS

DEVICE = get_device("h100-sxm")


@pytest.mark.parametrize("spec, bindings", [("resnet50.yaml", {"B": 64}), ("llama3_8b.yaml", {"L": 512}), ("mamba_130m.yaml", {"L": 256})])
def test_the_time_of_every_layer_is_at_least_each_bound(spec, bindings):
    rows, totals = roofline(archspec.analyze(SPECS / spec, **bindings), DEVICE, "bf16")
    for row in rows:
        assert row.time_s >= row.compute_s and row.time_s >= row.memory_s
        assert row.time_s == max(row.compute_s, row.memory_s)
    assert totals["time_s"] >= max(totals["compute_s"], totals["memory_s"])


@given(st.integers(1, 64), st.sampled_from([1.0, 2.0, 4.0]))
@settings(max_examples=12)
def test_more_bandwidth_never_slows_anything(batch, factor):
    report = archspec.analyze(SPECS / "gpt2.yaml", B=batch, L=128)
    faster = replace(DEVICE, memory_bandwidth=DEVICE.memory_bandwidth * factor)
    slow, _ = roofline(report, DEVICE, "bf16")
    fast, _ = roofline(report, faster, "bf16")
    assert all(f.time_s <= s.time_s for f, s in zip(fast, slow))


def test_a_memory_bound_decode_step_runs_at_bandwidth_over_bytes():
    report = archspec.analyze(SPECS / "llama3_8b.yaml", decode=True, B=1, P=2048)
    efficiency = Efficiency()
    rows, totals = roofline(report, DEVICE, "bf16", efficiency)
    assert all(row.bound == "memory" for row in rows if row.bytes > 1e6)  # one token: every large layer is memory-bound
    bytes_per_step = totals["bytes"]
    tokens_per_s = 1 / totals["time_s"]
    memory_only = DEVICE.memory_bandwidth * efficiency.memory / bytes_per_step
    assert tokens_per_s == pytest.approx(memory_only, rel=1e-3)  # the few compute-bound tiny layers hardly count
    # weights, read once, and the cache of 2,048 past tokens are most of the bytes
    weights = 2 * archspec.analyze(SPECS / "llama3_8b.yaml").totals["params"]
    cache = 2 * 32 * 2 * 8 * 128 * 2048
    assert weights + cache < bytes_per_step < 1.01 * (weights + cache)


def test_bytes_of_a_linear_are_its_input_weights_and_output():
    from tests.helpers import spec

    report = archspec.analyze(spec([4, 1024], [{"type": "Linear", "out_features": 2048}]))
    rows, _ = roofline(report, DEVICE, "bf16")
    input_bytes = 4 * 1024 * 4  # the spec's input is float32
    assert rows[0].bytes == input_bytes + 2 * (1024 * 2048 + 2048) + 2 * 4 * 2048
