"""Reading and validating specs: located errors, several at once, safe YAML, the JSON Schema."""

import subprocess
import sys
import time
from fractions import Fraction
from typing import Annotated

import pytest
import yaml
from pydantic import TypeAdapter

import archspec
from archspec.errors import ShapeError, SpecError
from archspec.layers import REGISTRY
from archspec.layers.base import evaluate_real_arg, real_fields
from archspec.spec import json_schema
from tests.conftest import SPECS

GOOD_HEAD = """\
name: t
params: {B: 1, k: 5}
inputs:
  x: {shape: [B, 1, 28, 28]}
layers:
"""


def errors_of(text):
    with pytest.raises(SpecError) as info:
        archspec.analyze(text)
    return info.value.problems


def test_several_problems_are_reported_together_with_lines():
    problems = errors_of(
        GOOD_HEAD
        + """\
  - {type: Conv2d, out_channels: k, kernel: 3}
  - Relu
  - {type: Linear}
"""
    )
    messages = [(p.line, p.where, p.message) for p in problems]
    assert (6, "layers[0] (conv2d_0, Conv2d)", "missing required argument 'kernel_size' for Conv2d") in messages
    assert any(line == 6 and "unknown argument 'kernel' for Conv2d; did you mean 'kernel_size'?" in m for line, _, m in messages)
    assert (7, "layers[1] (relu_0)", "unknown layer or block type 'Relu'; did you mean 'ReLU'?") in messages
    assert (8, "layers[2] (linear_0, Linear)", "missing required argument 'out_features' for Linear") in messages


def test_error_text_names_file_line_column_and_layer(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(GOOD_HEAD + "  - {type: Conv2d, out_channels: kk, kernel_size: 3}\n")
    with pytest.raises(SpecError) as info:
        archspec.analyze(path)
    assert str(info.value) == (
        f"{path}:6:34: layers[0] (conv2d_0, Conv2d): unknown name 'kk' in 'kk'; did you mean 'k'? (params: B, k)"
    )


def test_param_used_before_it_is_declared():
    problems = errors_of("params: {a: b, b: 2}\ninputs: {x: {shape: [1, 3]}}\nlayers: [{type: Linear, out_features: a}]\n")
    assert "'b' is used in 'b' before it is declared" in problems[0].message
    assert problems[0].line == 1


def test_missing_top_level_fields():
    problems = errors_of("name: t\n")
    assert {p.message for p in problems} == {"missing required field 'inputs'", "missing required field 'layers'"}


def test_unknown_top_level_field_suggests_the_right_one():
    problems = errors_of(GOOD_HEAD + "  - ReLU\nlayer: []\n")
    assert "unknown field 'layer'; did you mean 'layers'?" in problems[0].message


def test_duplicate_names_and_keys():
    (problem,) = errors_of(GOOD_HEAD + "  - {type: ReLU, name: a}\n  - {type: Tanh, name: a}\n")
    assert (problem.line, problem.where, problem.message) == (7, "layers[1] (a, Tanh)", "layer name 'a' is already used by layers[0]")
    assert "duplicate key 'name'" in errors_of("name: a\nname: b\n")[0].message


def test_wrong_value_types_are_named():
    problems = errors_of(GOOD_HEAD + "  - {type: Conv2d, out_channels: 2.5, kernel_size: 3, bias: maybe}\n")
    text = " ".join(p.message for p in problems)
    assert "out_channels" in text and "2.5" in text
    assert "bias" in text and "maybe" in text


def test_invalid_yaml_is_located():
    problems = errors_of("name: [unclosed\n")
    assert problems[0].message.startswith("invalid YAML")
    assert problems[0].line is not None


def test_python_object_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD_HEAD + f"  - !!python/object/apply:os.system ['touch {marker}']\n"
    problems = errors_of(text)
    assert not marker.exists()
    assert "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'" in str(problems[0])


def test_alias_bomb_is_rejected_quickly():
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    start = time.perf_counter()
    problems = errors_of("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 2
    assert "alias bomb" in problems[0].message


def test_anchors_and_aliases_work_for_normal_specs():
    text = """\
inputs: {x: {shape: [1, 3, 8, 8]}}
layers:
  - &conv {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - *conv
  - {<<: *conv, out_channels: 8}
"""
    report = archspec.analyze(text)
    assert [row.output_shape for row in report.layers] == [(1, 4, 8, 8), (1, 4, 8, 8), (1, 8, 8, 8)]


def test_generated_names_are_the_lowercased_type_and_a_counter():
    report = archspec.analyze(GOOD_HEAD + "  - ReLU\n  - {type: ReLU, name: mid}\n  - ReLU\n  - {type: AdaptiveAvgPool2d, output_size: 1}\n")
    assert [row.name for row in report.layers] == ["relu_0", "mid", "relu_2", "adaptiveavgpool2d_0"]


def test_json_schema_lists_every_layer_type():
    schema = json_schema()
    text = str(schema)
    for name in ("Conv2d", "Linear", "BatchNorm2d", "AdaptiveAvgPool2d", "Softmax", "Flatten"):
        assert name in text
    assert schema["required"] == ["inputs", "layers"]


# ---- the format without gaps ------------------------------------------------------------
def run(*args):
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True)


# arguments torch computes from the input's shape (in_channels, in_features, ...): never required
INFERRED = {"in_channels", "in_features", "num_features", "normalized_shape", "num_channels", "embed_dim", "kdim", "vdim", "input_size"}


def test_every_argument_that_follows_from_the_input_is_optional():
    found = 0
    for name, cls in REGISTRY.items():
        for field_name, info in cls.model_fields.items():
            if field_name in INFERRED:
                found += 1
                assert not info.is_required(), f"{name}.{field_name} should be inferred from the input"
    assert found >= 20


def test_multihead_attention_infers_its_embed_dim():
    from tests.helpers import analyze_one

    row = analyze_one([10, 2, 64], {"type": "MultiheadAttention", "num_heads": 8})
    assert row.params == 4 * 64 * 64 + 4 * 64


def test_every_float_argument_takes_an_expression_over_params():
    """No layer field is a bare float: each real-valued argument parses an expression and binds to an exact rational."""
    count = 0
    for name, cls in REGISTRY.items():
        for field_name, info in cls.model_fields.items():
            annotation = str(info.annotation)
            reals = real_fields(cls)
            if "float" in annotation and not annotation.startswith(("dict", "typing.Literal")):
                assert field_name in reals, f"{name}.{field_name} is a float field without expressions"
            if field_name in reals:
                count += 1
                adapter = TypeAdapter(Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation)
                expr = adapter.validate_python("q / 20")
                marker = reals[field_name]
                low = 0 if marker.minimum is None else marker.minimum
                assert evaluate_real_arg(field_name, expr, marker, {"q": 1 + low * 20}) == Fraction(1 + low * 20, 20)
    assert count >= 15


def test_float_params_reach_float_fields_exactly():
    spec = {
        "params": {"p": 0.1, "hd": 64},
        "inputs": {"x": {"shape": [2, 8, 64]}},
        "layers": [{"type": "Dropout", "p": "p"}, {"type": "Mul", "other": "hd**-0.5"}, {"type": "Attention", "num_heads": 4, "dropout": "p"}],
    }
    report = archspec.analyze(spec)
    assert report.layers[1].flops == 2 * 8 * 64
    with pytest.raises(ShapeError, match="p must be at most 1"):
        archspec.analyze(spec, p=1.5)
    # an irrational root is the double Python computes, as the model's code does: 32**-0.5
    irrational = archspec.analyze(spec, hd=32)
    assert irrational.layers[1].layer.other == Fraction(32**-0.5)
    assert irrational.layers[1].flops == 2 * 8 * 64


def test_block_arguments_may_be_lists_checked_as_the_layer_field():
    spec = yaml.safe_load("""
inputs: {x: {shape: [1, 8, 32, 32]}}
blocks:
  Conv:
    args: {k: null, pad: [0, 0]}
    layers:
      - {type: Conv2d, out_channels: 8, kernel_size: k, padding: pad}
layers:
  - {type: Conv, k: [1, 7], pad: [0, 3]}
  - {type: Conv, k: [7, 1], pad: [3, 0]}
""")
    rows = archspec.analyze(spec).layers
    assert [row.output_shape for row in rows] == [(1, 8, 32, 32)] * 2
    assert rows[0].macs == 32 * 32 * 8 * 8 * 7
    spec["layers"][0]["k"] = [1, 7, 3]
    with pytest.raises(ShapeError, match="kernel_size has 3 values"):
        archspec.analyze(spec)


def dangling():
    return {
        "inputs": {"x": {"shape": [1, 8]}},
        "layers": [
            {"name": "a", "type": "Linear", "out_features": 8},
            {"name": "b", "type": "Linear", "out_features": 8, "from": "x"},  # a typo: meant a
            {"name": "c", "type": "ReLU"},
        ],
    }


def test_an_output_nothing_reads_is_a_warning_and_an_error_with_strict(tmp_path):
    report = archspec.analyze(dangling())
    assert len(report.warnings) == 1 and "a's output is never used" in report.warnings[0]
    path = tmp_path / "dangling.yaml"
    path.write_text(yaml.safe_dump(dangling()))
    validate = run("validate", str(path))
    assert validate.returncode == 0 and "warning:" in validate.stdout and "layers[0] (a, Linear)" in validate.stdout
    analyze = run("analyze", str(path))
    assert analyze.returncode == 0 and "never used" in analyze.stderr
    strict = run("analyze", str(path), "--strict")
    assert strict.returncode == 1 and "never used" in strict.stderr


def test_a_training_only_branch_counts_its_params_and_runs_only_in_training():
    spec = {
        "inputs": {"x": {"shape": [1, 16]}},
        "layers": [
            {"name": "trunk", "type": "Linear", "out_features": 16},
            {"name": "aux", "type": "Linear", "out_features": 4, "training_only": True},
            {"name": "aux_act", "type": "ReLU", "training_only": True},
            {"name": "head", "type": "Linear", "out_features": 2, "from": "trunk"},
        ],
        "outputs": ["head", "aux_act"],
    }
    inference, training = archspec.analyze(spec), archspec.analyze(spec, training=True)
    assert inference.totals["params"] == training.totals["params"] == 16 * 17 + 16 * 4 + 4 + 16 * 2 + 2
    assert training.totals["macs"] - inference.totals["macs"] == 16 * 4
    from archspec.memory import MemoryOptions, memory

    assert memory(training, MemoryOptions()).totals["saved_activations"] > memory(inference, MemoryOptions()).totals["saved_activations"]


def test_unknown_keys_are_located_at_the_key(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("name: x\nlayrs: []\ninputs: {x: {shape: [4]}}\nlayers:\n  - {type: ReLU,   inplac: true}\n")
    result = run("validate", str(path))
    assert f"{path}:2:1: unknown field 'layrs'" in result.stderr
    assert f"{path}:5:20: layers[0] (relu_0, ReLU): unknown argument 'inplac'" in result.stderr


def test_a_spec_path_of_any_name_or_standard_input(tmp_path):
    path = tmp_path / "spec"
    path.write_text((SPECS / "seed_mnist.yaml").read_text())
    assert run("validate", str(path)).stdout.startswith("ok: seed-mnist-cnn")
    piped = subprocess.run([sys.executable, "-m", "archspec.cli", "validate", "-"], input=path.read_text(), capture_output=True, text=True)
    assert piped.stdout.startswith("ok: seed-mnist-cnn")
    assert "no such file" in run("validate", str(tmp_path / "missing")).stderr.lower()


def test_a_bad_binding_says_what_is_wrong_with_the_value():
    result = run("analyze", str(SPECS / "resnet18.yaml"), "--set", "B=abc")
    assert result.returncode == 1 and "--set B=abc: unknown name 'abc'" in result.stderr
