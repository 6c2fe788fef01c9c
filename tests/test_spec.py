"""Reading and validating specs: located errors, several at once, safe YAML, the JSON Schema."""

import time

import pytest

import archspec
from archspec.errors import SpecError
from archspec.spec import json_schema

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
