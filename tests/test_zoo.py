"""The model zoo against published and measured figures: a table of (spec, metric, expected, source)."""

import json
from pathlib import Path

import pytest

import archspec
from tests.conftest import SPECS

TORCHVISION = "torchvision weights meta (num_params, _ops in GFLOPS), torchvision/models/{}.py"
MEASURED = "PyTorch measurement, tests/reference/torch_measured.json"

EXACT = [
    # spec, metric, expected, source
    ("seed_mnist.yaml", "params", 370_338, MEASURED),
    ("seed_mnist.yaml", "macs", 529_940, "worked example: 30,420 + 129,600 + 368,640 + 1,280"),
    ("seed_conv3x3.yaml", "macs", 924_844_032, "worked example: 112*112*128*64*9"),
    ("seed_conv3x3.yaml", "params", 73_856, MEASURED),
    ("lenet5.yaml", "params", 61_706, MEASURED),
    ("alexnet.yaml", "params", 61_100_840, TORCHVISION.format("alexnet")),
    ("vgg16.yaml", "params", 138_357_544, TORCHVISION.format("vgg")),
    ("vgg16_bn.yaml", "params", 138_365_992, TORCHVISION.format("vgg")),
    # BatchNorm2d running_mean + running_var + num_batches_tracked over VGG-16-BN's 13 norms.
    ("vgg16_bn.yaml", "buffers", 2 * (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512) + 13, "torch.nn.BatchNorm2d buffers"),
]

# torchvision publishes GFLOPS rounded; its figures count conv and linear multiply-accumulates.
PUBLISHED_GFLOPS = [
    ("alexnet.yaml", "0.714", TORCHVISION.format("alexnet")),
    ("vgg16.yaml", "15.47", TORCHVISION.format("vgg")),
    ("vgg16_bn.yaml", "15.47", TORCHVISION.format("vgg")),
]


@pytest.mark.parametrize("spec, metric, expected, source", EXACT)
def test_exact_figures(spec, metric, expected, source):
    assert archspec.analyze(SPECS / spec).totals[metric] == expected, source


@pytest.mark.parametrize("spec, published, source", PUBLISHED_GFLOPS)
def test_macs_match_published_gflops_to_the_digits_published(spec, published, source):
    macs = archspec.analyze(SPECS / spec).totals["macs"]
    decimals = len(published.split(".")[1])
    assert f"{macs / 1e9:.{decimals}f}" == published, source


def test_seed_mnist_per_layer_macs_and_flops():
    report = archspec.analyze(SPECS / "seed_mnist.yaml")
    rows = [row for row in report.layers if row.macs]
    assert [row.macs for row in rows] == [30_420, 129_600, 368_640, 1_280]
    # FLOPs without the bias additions: twice the MACs.
    bias_adds = [5 * 26 * 26, 5 * 24 * 24, 128, 10]
    assert [row.flops - b for row, b in zip(rows, bias_adds)] == [60_840, 259_200, 737_280, 2_560]


def test_vgg16_bn_costs_as_vgg16_in_macs():
    plain = archspec.analyze(SPECS / "vgg16.yaml").totals
    with_bn = archspec.analyze(SPECS / "vgg16_bn.yaml").totals
    assert with_bn["macs"] == plain["macs"]
    assert with_bn["flops"] > plain["flops"]


REFERENCE = json.loads((Path(__file__).parent / "reference" / "torch_measured.json").read_text())
REFERENCE_SPECS = {
    "seed_mnist_cnn": "seed_mnist.yaml",
    "seed_conv3x3_64_128": "seed_conv3x3.yaml",
    "lenet5": "lenet5.yaml",
    "alexnet": "alexnet.yaml",
    "vgg16": "vgg16.yaml",
}


@pytest.mark.parametrize("model", REFERENCE["models"], ids=lambda m: m["model"])
def test_every_layer_matches_the_pytorch_measurement(model):
    """Output shapes and params per leaf module; conv/linear MACs equal fvcore's per-module count
    (fvcore counts one fused multiply-add as one flop and ignores bias)."""
    report = archspec.analyze(SPECS / REFERENCE_SPECS[model["model"]])
    assert report.totals["params"] == model["params"]
    assert report.totals["buffers"] == model["buffers"]
    assert list(report.outputs.values())[0] == tuple(model["output_shape"])
    # torchvision flattens with torch.flatten (a function, not a module): skip our Flatten rows
    # when the measurement has none.
    measured_types = [layer["type"] for layer in model["per_layer"]]
    rows = [row for row in report.layers if row.type != "Flatten" or "Flatten" in measured_types]
    assert [row.type for row in rows] == measured_types
    for row, layer in zip(rows, model["per_layer"]):
        assert row.output_shape == tuple(layer["output_shape"]), layer["name"]
        assert row.params == layer["params"], layer["name"]
        if row.type in ("Conv2d", "Linear"):
            assert row.macs == layer["fvcore_flops"], layer["name"]
