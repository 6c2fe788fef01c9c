"""Whole random specs against the tests' own computation of them (issue 23).

tests/strategies.py draws convolutional chains (1 to 3 spatial dims), token/MLP chains and
graphs with two-branch blocks joined by Add or Concat through `from:`, of registered layers
with random arguments, and computes each layer's figures from torch.nn's formulas. The
properties: every row's output shape, params, buffers, MACs and FLOPs (where a definition
fixes them) and the totals equal that computation; saved activations equal the storages
autograd's derivative formulas keep, and the inference peak the most bytes live at once;
memory is affine in the batch (training state independent of it); formulas with free sizes
evaluated at the spec's values equal the numbers.

Three archspec bugs these properties found are fixed, each kept as a minimal reproducer:
ceil_mode pools whose window overhangs the input, an input viewed late in the inference
peak, LayerNorm's check under a free size.

Runs on the 2-core test machine: default profile, 7 properties x 60 examples, 3.4 s;
deep profile (ARCHSPEC_HYPOTHESIS=deep), 7 x 1200 examples, 53 s.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError
from archspec.memory import MemoryOptions, memory
from archspec.symbolic import symbol
from tests.helpers import analyze_one
from tests.strategies import (
    cnn_specs,
    inference_peak_bytes,
    late_input_view_specs,
    reference,
    saved_bytes,
    specs,
    token_specs,
    wide_ceil_pool_specs,
)

TOTALS = ("params", "buffers", "macs", "flops", "activations")


def check_against_reference(spec: dict[str, Any]) -> None:
    """Every row and every total of the report equals the reference's."""
    expected = reference(spec)
    report = archspec.analyze(spec)
    rows = {row.name: row for row in report.layers}
    assert list(rows) == list(expected)  # one row per layer, in order
    for name, want in expected.items():
        row = rows[name]
        assert all(d >= 1 for d in row.output_shape), name
        got = (row.output_shape, row.params, row.buffers, row.macs)
        assert got == (want.shape, want.params, want.buffers, want.macs), name
        if want.other_flops is not None:
            assert row.flops == 2 * want.macs + want.other_flops, name
    sums = {
        "params": sum(e.params for e in expected.values()),
        "buffers": sum(e.buffers for e in expected.values()),
        "macs": sum(e.macs for e in expected.values()),
        "activations": sum(math.prod(e.shape) for e in expected.values()),  # every output tensor's elements
    }
    assert {key: report.totals[key] for key in sums} == sums


@given(cnn_specs())
def test_cnn_chains_equal_the_reference(spec):
    """Conv/BatchNorm/activation/pooling/Flatten/Linear chains: shapes, params, buffers, MACs, FLOPs."""
    check_against_reference(spec)


@given(token_specs())
def test_token_chains_equal_the_reference(spec):
    """Embedding/Linear/LayerNorm/activation chains on tokens: shapes, params, MACs, FLOPs."""
    check_against_reference(spec)


@given(st.one_of(cnn_specs(branches=True), token_specs(branches=True)))
def test_branching_graphs_equal_the_reference(spec):
    """Graphs with two-branch blocks joined by Add or Concat through `from:`: every row and total."""
    check_against_reference(spec)


# A ceil_mode window may be wider than the padded input, as PyTorch pools it: ATen's
# pooling_output_shape rounds (size + 2p - span + stride - 1) / stride down and adds one, and
# its shape check asks only for an output of at least 1 (archspec refused it). HuggingFace's
# EfficientNet pooler is such a layer: nn.AvgPool2d(1280, ceil_mode=True) on its 7 x 7 map.
@pytest.mark.parametrize("layer, shape, out", [
    ({"type": "MaxPool1d", "kernel_size": 3, "stride": 2, "ceil_mode": True}, [1, 1, 2], (1, 1, 1)),
    ({"type": "AvgPool2d", "kernel_size": 1280, "ceil_mode": True}, [1, 1280, 7, 7], (1, 1280, 1, 1)),
])
def test_a_ceil_mode_window_may_overhang_the_input(layer, shape, out):
    """Minimal reproducers: PyTorch gives one window (torch 2.13 on CPU, checked by hand)."""
    assert analyze_one(shape, layer).output_shape == out


@given(wide_ceil_pool_specs())
def test_ceil_mode_pools_with_overhanging_windows_equal_the_reference(spec):
    """Pools whose ceil_mode window overhangs the padded input: shapes and counts as PyTorch's."""
    check_against_reference(spec)


@given(specs())
def test_memory_grows_with_the_batch_as_it_must(spec):
    """Saved activations affine in B, the inference peak proportional to B, training state fixed."""
    params = sum(e.params for e in reference(spec).values())
    totals = [memory(archspec.analyze(spec, B=b), MemoryOptions()).totals for b in (1, 2, 3)]
    saved = [t["saved_activations"] for t in totals]
    # per-sample tensors grow by the same step with every sample; BatchNorm's per-channel
    # statistics do not grow at all, so the intercept is not zero, but never negative
    assert saved[2] - saved[1] == saved[1] - saved[0] >= 0
    assert saved[0] - (saved[1] - saved[0]) >= 0
    # what inference holds live is made of activations only, each proportional to B
    assert [t["inference_peak"] for t in totals] == [b * totals[0]["inference_peak"] for b in (1, 2, 3)]
    for key in ("weights", "buffers", "gradients", "optimizer", "master_weights"):
        assert totals[0][key] == totals[1][key] == totals[2][key], key
    # fp32 weights and gradients, and Adam's two fp32 moments per parameter
    state = (totals[0]["weights"], totals[0]["gradients"], totals[0]["optimizer"])
    assert state == (4 * params, 4 * params, 8 * params)


@given(specs(), st.sampled_from(["cuda", "cpu"]))
def test_saved_activations_equal_what_autograd_keeps(spec, device):
    """Saved activations equal the distinct storages PyTorch's derivative formulas save."""
    saved = memory(archspec.analyze(spec), MemoryOptions(device=device)).totals["saved_activations"]
    assert saved == saved_bytes(spec, device)


def inference_peak(spec: dict[str, Any]):
    """archspec's inference peak of a spec, fp32."""
    return memory(archspec.analyze(spec), MemoryOptions(training=False)).totals["inference_peak"]


@given(specs())
def test_inference_peak_is_the_most_bytes_live_at_once(spec):
    """The inference peak equals the largest sum of storages live at one layer (docs/memory.md)."""
    assert inference_peak(spec) == inference_peak_bytes(spec)


# A network input that a later layer passes through without allocating (Flatten, Dropout at
# inference) is live from the start: archspec took it as born at the view (the view's output
# storage roots to the input's), so its bytes were missing from every step before.
@pytest.mark.parametrize("skip", [{"type": "Dropout", "p": 0.1}, {"type": "Flatten"}], ids=["dropout", "flatten"])
def test_an_input_viewed_late_is_live_from_the_start(skip):
    """Minimal reproducer: the peak holds x while the branch runs (64 bytes; archspec gave 48)."""
    # at the second Linear, x (4 floats), its input (8) and its output (4) are live
    spec = {"inputs": {"x": {"shape": [1, 4]}}, "layers": [
        {"name": "a", "type": "Linear", "out_features": 8},
        {"name": "b", "type": "Linear", "out_features": 4},
        {**skip, "name": "skip", "from": "x"},
        {"name": "sum", "type": "Add", "from": ["b", "skip"]},
    ]}
    assert inference_peak(spec) == 4 * (4 + 8 + 4)


@given(late_input_view_specs())
def test_residual_blocks_whose_skip_views_the_input_peak_as_reference(spec):
    """Residual MLP blocks whose skip passes the input through a view: the inference peak."""
    assert inference_peak(spec) == inference_peak_bytes(spec)


@given(specs(), st.data())
def test_formulas_with_free_sizes_equal_the_numbers(spec, data):
    """Some of B, L, D, H, W left free: totals, shapes and memory at the spec's values are its numbers."""
    values = spec["params"]
    free = data.draw(st.lists(st.sampled_from(sorted(values)), min_size=1, unique=True), label="free")
    numeric = archspec.analyze(spec)
    try:
        symbolic = archspec.analyze(spec, **{name: None for name in free})
    except ShapeError as exc:
        # archspec declines a free spatial size under a ceil_mode pool whose last window could
        # start in the padding (the count then depends on the size's value): only there
        assert "ceil_mode=True" in str(exc) and any(layer.get("ceil_mode") for layer in spec["layers"])
        free = ["B"]
        symbolic = archspec.analyze(spec, B=None)
    point = {symbol(name): values[name] for name in free}

    def at_point(value):
        return sympy.sympify(value).subs(point)

    for key in TOTALS:
        assert at_point(symbolic.totals[key]) == numeric.totals[key], key
    for symbolic_row, numeric_row in zip(symbolic.layers, numeric.layers, strict=True):
        assert tuple(at_point(d) for d in symbolic_row.output_shape) == numeric_row.output_shape, numeric_row.name
    for options in (MemoryOptions(), MemoryOptions(training=False)):
        formulas, numbers = memory(symbolic, options).totals, memory(numeric, options).totals
        for key in ("saved_activations", "inference_peak", "training_total", "inference_total"):
            assert at_point(formulas[key]) == numbers[key], key


def test_a_layer_norm_shape_holding_at_the_free_sizes_value_is_accepted():
    """Minimal reproducer: LayerNorm(normalized_shape=[1, 1]) on (B, L, 1), L = 1 left free."""
    # docs/counting.md: a check that depends on a free size fails only when it fails for every
    # value (Linear checks in_features so); LayerNorm's check demanded equality for every L
    spec = {"params": {"B": 1, "L": 1}, "inputs": {"x": {"shape": ["B", "L", 1]}},
            "layers": [{"type": "LayerNorm", "normalized_shape": [1, 1]}]}
    formula = archspec.analyze(spec, L=None).totals["params"]
    assert sympy.sympify(formula).subs(symbol("L"), 1) == 2
