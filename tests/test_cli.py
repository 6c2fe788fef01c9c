"""The archspec command, run as a user runs it: in a subprocess."""

import csv
import io
import json
import subprocess
import sys

import pytest

from tests.conftest import SPECS

MNIST = str(SPECS / "seed_mnist.yaml")


def run(*args):
    return subprocess.run([sys.executable, "-m", "archspec", *args], capture_output=True, text=True)


def test_table_shows_layers_and_totals_in_human_units():
    result = run("analyze", MNIST)
    assert result.returncode == 0, result.stderr
    assert "conv2d_0" in result.stdout and "[1, 5, 26, 26]" in result.stdout
    assert "529.94 K" in result.stdout and "370.34 K" in result.stdout
    assert "MACs 529,940" in result.stdout


def test_json_output():
    result = run("analyze", MNIST, "--format", "json", "--set", "B=4")
    data = json.loads(result.stdout)
    assert data["totals"]["macs"] == 4 * 529_940
    assert data["params"] == {"B": 4, "k": 5}
    assert data["outputs"] == {"linear_1": [4, 10]}


def test_json_output_with_a_free_symbol():
    data = json.loads(run("analyze", MNIST, "--format", "json", "--set", "B=null").stdout)
    assert data["totals"]["macs"] == "529940*B"
    assert data["totals"]["params"] == 370_338


def test_csv_output_round_trips():
    result = run("analyze", MNIST, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[-1]["name"] == "total"
    assert sum(int(r["macs"]) for r in rows[:-1]) == int(rows[-1]["macs"]) == 529_940


def test_markdown_output():
    result = run("analyze", MNIST, "--format", "markdown", "--set", "B=null")
    assert "| conv2d_0 | Conv2d | `[B, 5, 26, 26]` | 50 | `30420*B` |" in result.stdout


def test_validate_and_schema():
    assert run("validate", MNIST).stdout.startswith("ok: seed-mnist-cnn: 8 layers, output linear_1 [1, 10]")
    schema = json.loads(run("schema").stdout)
    assert {"layers", "blocks", "outputs"} <= set(schema["properties"])
    from archspec.spec import json_schema

    assert schema == json_schema()


def test_depth_collapses_blocks_into_rows():
    result = run("analyze", str(SPECS / "resnet18.yaml"), "--depth", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["name"] for row in rows[4:8]] == ["layer1", "layer2", "layer3", "layer4"]
    assert [row["type"] for row in rows[4:8]] == ["BasicBlock", "Stage", "Stage", "Stage"]
    assert rows[-1]["params"] == "11689512"
    assert run("analyze", MNIST, "--depth", "0").returncode == 2


def test_graph_errors_exit_1_with_the_layer_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "inputs: {x: {shape: [1, 4, 8, 8]}}\n"
        "blocks:\n"
        "  Res:\n"
        "    layers:\n"
        "      - {type: Conv2d, out_channels: 5, kernel_size: 1}\n"
        "      - {type: Add, from: [conv2d_0, input]}\n"
        "layers: [{name: body, type: Res}]\n"
    )
    result = run("analyze", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{bad}:6:9: blocks.Res.layers[1] (add_0, Add) at body: cannot broadcast [1, 5, 8, 8] and [1, 4, 8, 8]" in result.stderr


def test_spec_error_exits_1_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: {shape: [1, 30]}}\nlayers:\n  - {type: Conv2d, out_channels: 2, kernel_size: 3}\n")
    result = run("analyze", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:3:5: layers[0] (conv2d_0, Conv2d): expected a 4-D or 3-D input" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["analyze", MNIST, "--set", "B"], "expected NAME=VALUE"),
        (["analyze", MNIST, "--format", "xml"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_file_exits_1():
    result = run("analyze", "no/such/spec.yaml")
    assert result.returncode == 1
    assert "cannot read the spec file" in result.stderr


def test_bad_binding_exits_1():
    result = run("analyze", MNIST, "--set", "B=__import__('os')")
    assert result.returncode == 1
    assert "--set B=" in result.stderr and "Traceback" not in result.stderr


def test_limits_can_be_raised_and_name_themselves(tmp_path):
    spec = tmp_path / "deep.yaml"
    spec.write_text("inputs: {x: {shape: [1, 8]}}\nlayers:\n  - {type: Linear, out_features: 8, repeat: 20}\n")
    assert run("analyze", str(spec), "--format", "csv").returncode == 0
    refused = run("analyze", str(spec), "--limit", "max_repeat=10")
    assert refused.returncode == 1
    assert "repeat: 20 is more than the limit of 10 (raise it with --limit max_repeat=N" in refused.stderr
    assert run("analyze", str(spec), "--limit", "max_repeats=10").returncode == 2
    huge = tmp_path / "huge.yaml"
    huge.write_text("inputs: {x: {shape: [1, 8]}}\nlayers:\n  - {type: Linear, out_features: 2**60}\n")
    result = run("analyze", str(huge))
    assert result.returncode == 1 and "has a dimension beyond the limit of 281,474,976,710,656" in result.stderr
    assert run("analyze", str(huge), "--limit", "max_dim=2000000000000000000").returncode == 0


def test_analyze_with_a_convention_keeps_the_json_keys():
    plain = json.loads(run("analyze", str(SPECS / "resnet50.yaml"), "--format", "json").stdout)
    result = run("analyze", str(SPECS / "resnet50.yaml"), "--convention", "thop", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data.keys() == plain.keys() and data["totals"].keys() == plain["totals"].keys()
    assert data["totals"]["macs"] == 4_133_742_592  # thop's README figure for ResNet-50


def test_compare_lists_every_profile_with_its_exact_total_and_reasons():
    result = run("compare", str(SPECS / "resnet50.yaml"))
    assert result.returncode == 0, result.stderr
    for title, total in [("thop", "4,133,742,592"), ("fvcore", "4,111,512,576"), ("flopcounter", "8,178,368,512")]:
        assert any(line.split() == [title, total] for line in result.stdout.splitlines()), title
    assert "! ReLU / ptflops-pytorch" in result.stdout and "counted twice" in result.stdout
    data = json.loads(run("compare", str(SPECS / "resnet50.yaml"), "--format", "json").stdout)
    assert data["totals"]["calflops FLOPs"] == 8_211_108_352
    assert {"type": "BatchNorm2d", "convention": "thop"}.items() <= next(
        d for d in data["differences"] if d["type"] == "BatchNorm2d" and d["convention"] == "thop"
    ).items()


def test_conventions_lists_profiles_and_unknown_one_is_a_clear_error():
    listing = run("conventions").stdout
    assert "ultralytics-thop 2.2.3" in listing and "ptflops 0.7.5" in listing and "torchinfo 1.8.0" in listing
    result = run("analyze", MNIST, "--convention", "fvcroe")
    assert result.returncode == 1 and "did you mean 'fvcore'" in result.stderr and "Traceback" not in result.stderr
    result = run("analyze", MNIST, "--convention", "fvcore", "--backward")
    assert result.returncode == 1 and "forward pass only" in result.stderr
