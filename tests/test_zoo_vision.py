"""The newer torchvision models against measured figures (tests/reference/vision_zoo_measured.json,
made by tests/reference/measure_vision_zoo.py): params, buffers, exact MACs, torchvision's
published GFLOPS, output shapes, and every peer's figure through its convention profile."""

import json
from fractions import Fraction
from pathlib import Path

import pytest

import archspec
from tests.conftest import SPECS

MEASURED = json.loads((Path(__file__).parent / "reference" / "vision_zoo_measured.json").read_text())["models"]

REGNET = "se d1 d2 d3 d4 w1 w2 w3 w4 g1 g2 g3 g4".split()
REGNETS = {  # torchvision's BlockParams per stage; regnet_y_400mf is the spec's default
    "regnet_x_400mf": (0, 1, 2, 7, 12, 32, 64, 160, 400, 16, 16, 16, 16),
    "regnet_x_800mf": (0, 1, 3, 7, 5, 64, 128, 288, 672, 16, 16, 16, 16),
    "regnet_x_1_6gf": (0, 2, 4, 10, 2, 72, 168, 408, 912, 24, 24, 24, 24),
    "regnet_x_3_2gf": (0, 2, 6, 15, 2, 96, 192, 432, 1008, 48, 48, 48, 48),
    "regnet_x_8gf": (0, 2, 5, 15, 1, 80, 240, 720, 1920, 80, 120, 120, 120),
    "regnet_x_16gf": (0, 2, 6, 13, 1, 256, 512, 896, 2048, 128, 128, 128, 128),
    "regnet_x_32gf": (0, 2, 7, 13, 1, 336, 672, 1344, 2520, 168, 168, 168, 168),
    "regnet_y_400mf": (1, 1, 3, 6, 6, 48, 104, 208, 440, 8, 8, 8, 8),
    "regnet_y_800mf": (1, 1, 3, 8, 2, 64, 144, 320, 784, 16, 16, 16, 16),
    "regnet_y_1_6gf": (1, 2, 6, 17, 2, 48, 120, 336, 888, 24, 24, 24, 24),
    "regnet_y_3_2gf": (1, 2, 5, 13, 1, 72, 216, 576, 1512, 24, 24, 24, 24),
    "regnet_y_8gf": (1, 2, 4, 10, 1, 224, 448, 896, 2016, 56, 56, 56, 56),
    "regnet_y_16gf": (1, 2, 4, 11, 1, 224, 448, 1232, 3024, 112, 112, 112, 112),
    "regnet_y_32gf": (1, 2, 5, 12, 1, 232, 696, 1392, 3712, 232, 232, 232, 232),
    "regnet_y_128gf": (1, 2, 7, 17, 1, 528, 1056, 2904, 7392, 264, 264, 264, 264),
}

# (measured model, spec, bindings): every variant comes from its family's one spec
MODELS = [
    ("swin_t", "swin_t.yaml", {}),
    ("swin_t@256", "swin_t.yaml", {"H": 256, "W": 256}),
    ("swin_s", "swin_t.yaml", {"depth3": 18}),
    ("swin_b", "swin_t.yaml", {"depth3": 18, "embed_dim": 128, "heads1": 4}),
    ("maxvit_t", "maxvit_t.yaml", {}),
    ("inception_v3", "inception_v3.yaml", {}),
    ("efficientnet_v2_s", "efficientnet_v2_s.yaml", {}),
    ("efficientnet_v2_m", "efficientnet_v2_s.yaml", {
        "H": 480, "W": 480, "n1": 3, "n2": 5, "n3": 5, "n4": 7, "n5": 14, "n6": 18, "n7": 5,
        "c3": 80, "c4": 160, "c5": 176, "c6": 304, "c7": 512, "dropout": "0.3"}),
    ("efficientnet_v2_l", "efficientnet_v2_s.yaml", {
        "H": 480, "W": 480, "c0": 32, "c1": 32, "c2": 64, "c3": 96, "c4": 192, "c5": 224, "c6": 384,
        "n1": 4, "n2": 7, "n3": 7, "n4": 10, "n5": 19, "n6": 25, "n7": 7, "dropout": "0.4"}),
    *[(name, "regnet_y_400mf.yaml", dict(zip(REGNET, values))) for name, values in REGNETS.items()],
    ("mobilenet_v3_small", "mobilenet_v3_small.yaml", {}),
    ("r3d_18", "r3d_18.yaml", {}),
    ("fcn_resnet50", "fcn_resnet50.yaml", {}),
    ("vit_l_16", "vit_l_16.yaml", {}),
]

# profile -> the measured key of the figure it reproduces, and the report total it is
PEERS = {
    "thop": ("thop_macs", "macs"),
    "ptflops-pytorch": ("ptflops_pytorch_macs", "macs"),
    "ptflops-aten": ("ptflops_aten_macs", "macs"),
    "fvcore": ("fvcore_flops", "macs"),
    "flopcounter": ("flopcounter_flops", "flops"),
}


def _cpu_sdpa_flops(report) -> int:
    """FlopCounterMode has no formula for the CPU's fused attention (pytorch#195460):
    the 4 N L^2 D FLOPs of each fused Attention/MultiheadAttention are missing from its figure."""
    total = 0
    for row in report.layers:
        if row.type in ("MultiheadAttention", "Attention") and getattr(row.layer, "kernel", "fused") != "eager":
            n, length, dim = row.input_shapes[0]
            total += 4 * n * length * length * dim * row.times
    return total


def _measured(name):
    return MEASURED[name]


@pytest.mark.parametrize("name, spec, bindings", MODELS, ids=[m[0] for m in MODELS])
def test_counts_equal_the_measured_model(name, spec, bindings):
    record = _measured(name)
    report = archspec.analyze(SPECS / spec, **bindings)
    assert report.totals["params"] == record["params"]
    assert report.totals["buffers"] == record["buffers"]
    assert report.totals["macs"] == record["conv_linear_matmul_macs"]
    assert tuple(next(iter(report.inputs.values()))) == tuple(record["input_shape"])
    outputs = record["output_shape"]
    if isinstance(outputs, dict):
        assert {k: list(v) for k, v in report.outputs.items()} == outputs
    else:
        assert [list(v) for v in report.outputs.values()] == [outputs]
    # torchvision's published GFLOPS at the measured resolution: the MACs in 1e9, 3 decimals
    height, width = record["input_shape"][-2:]
    for entry in record["published"]["entries"].values():
        if tuple(entry["resolution"]) == (height, width):
            assert round(report.totals["macs"] / 1e9, 3) == entry["_ops"], entry
            assert report.totals["params"] == entry["num_params"]


@pytest.mark.parametrize("name, spec, bindings", MODELS, ids=[m[0] for m in MODELS])
def test_every_peer_profile_reproduces_its_measured_figure(name, spec, bindings):
    record = _measured(name)
    for profile, (key, metric) in PEERS.items():
        report = archspec.analyze(SPECS / spec, convention=profile, **bindings)
        ours, peer = report.totals[metric], record[key]
        if profile == "flopcounter":
            ours -= _cpu_sdpa_flops(report)
        if isinstance(peer, float):  # ptflops and fvcore's einsum hand back floats
            ours = Fraction(str(ours)) if not isinstance(ours, int) else ours
            assert float(ours) == peer, f"{name}: {profile} {float(ours):,} != {peer:,}"
        else:
            assert ours == peer, f"{name}: {profile} {ours:,} != {peer:,} ({key})"
