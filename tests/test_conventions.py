"""Counting conventions against what the peers print for the zoo (tests/reference/peers_measured.json)."""

import json
from fractions import Fraction
from pathlib import Path

import pytest

import archspec
from archspec.conventions import CONVENTIONS, get_convention
from archspec.errors import ArchspecError
from tests.conftest import SPECS

MEASURED = json.loads((Path(__file__).parent / "reference" / "peers_measured.json").read_text())["models"]

# profile -> (the key of its printed figure in peers_measured.json, the report total it is)
FIGURES = {
    "thop": [("thop_macs", "macs")],
    "ptflops-pytorch": [("ptflops_macs_pytorch", "macs")],
    "ptflops-aten": [("ptflops_macs_aten", "macs")],
    "fvcore": [("fvcore_flops", "macs")],
    "torchinfo": [("torchinfo_mult_adds", "macs")],
    "flopcounter": [("flopcounter_flops", "flops")],
    "calflops": [("calflops_flops", "flops"), ("calflops_macs", "macs")],
    "deepspeed": [("deepspeed_flops", "flops"), ("deepspeed_macs", "macs")],
}


def _sdpa_flops(report, backward: bool) -> int:
    """FLOPs FlopCounterMode gives fused attention where it has a formula: 4*N*H*L*S*d forward,
    2.5 times that backward; on CPU it has none (pytorch#195460), so the measured figure lacks them."""
    total = 0
    for row in report.layers:
        if row.type in ("MultiheadAttention", "Attention"):
            n, length, dim = row.input_shapes[0]
            total += 4 * n * length * length * dim  # H heads of d = dim / H
    return total * 7 // 2 if backward else total


@pytest.mark.parametrize("record", MEASURED, ids=[r["model"] for r in MEASURED])
def test_every_profile_reproduces_its_peer_on_the_zoo(record):
    spec = SPECS / f"{record['model']}.yaml"
    for name, figures in FIGURES.items():
        report = archspec.analyze(spec, convention=name)
        for key, metric in figures:
            ours, peer = report.totals[metric], record[key]
            if name == "ptflops-pytorch":
                ours = int(Fraction(str(ours)) if not isinstance(ours, int) else ours)  # ptflops returns a float
            if name == "flopcounter":
                ours -= _sdpa_flops(report, backward=False)
            assert ours == peer, f"{record['model']}: {name} {metric} {ours:,} != {peer:,} ({key})"
    backward = archspec.analyze(spec, convention="flopcounter", backward=True).totals["flops"]
    assert backward - _sdpa_flops(report, backward=True) == record["flopcounter_fwd_bwd_flops"]


def test_archspec_and_torchvision_profiles_are_the_default_counts():
    report = archspec.analyze(SPECS / "resnet50.yaml")
    assert archspec.analyze(SPECS / "resnet50.yaml", convention="archspec").totals == report.totals
    torchvision = archspec.analyze(SPECS / "resnet50.yaml", convention="torchvision").totals
    assert torchvision["macs"] == report.totals["macs"] == 4_089_184_256  # torchvision: 4.09 GFLOPS
    assert torchvision["flops"] == 2 * torchvision["macs"]


def test_a_convention_keeps_formulas_symbolic():
    report = archspec.analyze(SPECS / "resnet50.yaml", convention="thop", B=None)
    assert report.totals["macs"].free_symbols
    assert report.subs(B=2).totals["macs"] == 2 * 4_133_742_592


def test_unknown_convention_and_backward_without_a_rule_are_clear_errors():
    with pytest.raises(ArchspecError, match="unknown convention 'thpo'; did you mean 'thop'"):
        archspec.analyze(SPECS / "lenet5.yaml", convention="thpo")
    with pytest.raises(ArchspecError, match="thop convention counts the forward pass only"):
        archspec.analyze(SPECS / "lenet5.yaml", convention="thop", backward=True)


def test_every_rule_states_its_formula():
    for convention in CONVENTIONS.values():
        assert convention.peer and convention.source and convention.summary
        for layer_type, rule in convention.rules.items():
            assert rule.__doc__, f"{convention.name}: the rule for {layer_type} has no docstring"
        assert set(convention.bugs) <= set(archspec.layers.REGISTRY), convention.name


def test_default_backward_is_twice_the_forward_matmul_flops():
    """6 N D: forward 2 MACs per parameter use, backward twice that, for a linear stack."""
    spec = {"name": "mlp", "inputs": {"x": {"shape": [8, 512]}}, "layers": [{"type": "Linear", "out_features": 512, "bias": False}] * 3}
    forward = archspec.analyze(spec).totals
    both = archspec.analyze(spec, backward=True).totals
    assert both["flops"] == 3 * forward["flops"] == 6 * forward["params"] * 8


def test_get_convention_lists_profiles_in_order():
    assert list(CONVENTIONS)[:2] == ["archspec", "torchvision"]
    assert get_convention("fvcore").prints == "macs"


def test_default_backward_on_gpt2_is_four_flops_per_forward_mac():
    forward = archspec.analyze(SPECS / "gpt2.yaml", L=128).totals
    both = archspec.analyze(SPECS / "gpt2.yaml", L=128, backward=True).totals
    assert both["flops"] - forward["flops"] == 4 * forward["macs"]
    assert both["macs"] == forward["macs"]


@pytest.mark.parametrize("spec", ["resnet50.yaml", "gpt2.yaml", "mixtral_8x7b.yaml", "lstm_2layer.yaml", "t5_small.yaml"])
def test_compare_counts_each_convention_as_an_analysis_under_it(spec):
    # compare walks the graph once and counts every row again per convention; each figure must
    # equal the analysis under that convention (a walk of its own)
    from archspec.compare import compare

    comparison = compare(SPECS / spec)
    for column in comparison.columns:
        report = archspec.analyze(SPECS / spec, convention=column.convention.name)
        assert comparison.totals[column.title] == report.totals[column.metric]
        for layer_type in comparison.types:
            expected = sum(getattr(row, column.metric) for row in report.layers if row.type == layer_type)
            assert comparison.by_type[(layer_type, column.title)] == expected, (layer_type, column.title)
