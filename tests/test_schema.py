"""The editor schema (archspec/spec.schema.json) catches layer mistakes as an editor would show
them, and accepts every spec of the zoo."""

import json

import jsonschema
import pytest
import yaml

from archspec.spec import SCHEMA_ID, json_schema
from tests.conftest import ROOT, SPECS

VALIDATOR = jsonschema.Draft202012Validator(json_schema())
SPEC = "inputs: {x: {shape: [1, 3, 8, 8]}}\nlayers:\n  - %s\n"

MISTAKES = [
    ("{type: Conv2d, out_chanels: 8, kernel_size: 3}", "a misspelled argument"),
    ("{type: Conv2D, out_channels: 8, kernel_size: 3}", "a layer type in the wrong case (not a block name)"),
    ("{type: Conv2d, out_channels: 8, kernel_size: 3, bias: 'yes'}", "a string for a boolean"),
    ("{type: Conv2d, out_channels: 8, kernel_size: -3}", "an integer below the field's minimum"),
    ("{type: Linear, out_features: 0}", "a size of 0"),
    ("{type: Dropout, p: [0.1]}", "a list for a number"),
    ("{type: ReLU, name: 3}", "a number for a name"),
    ("{type: BatchNorm2d, momentum: 0.1, affine: 2}", "a number for a boolean"),
]


@pytest.mark.parametrize("layer, what", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_the_schema_refuses_layer_mistakes(layer, what):
    assert list(VALIDATOR.iter_errors(yaml.safe_load(SPEC % layer))), what


@pytest.mark.parametrize("layer", ["{type: Conv2d, out_channels: 8, kernel_size: 3, padding: same}", "ReLU",
                                   "{type: MyBlock, k: 3}", "{type: Conv2d, out_channels: 2*c, kernel_size: k}"])
def test_the_schema_accepts_layers_and_block_uses(layer):
    assert not list(VALIDATOR.iter_errors(yaml.safe_load(SPEC % layer)))


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_zoo_spec_validates_and_names_the_schema(path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../archspec/spec.schema.json")
    assert not list(VALIDATOR.iter_errors(yaml.safe_load(text)))


def test_the_shipped_schema_file_is_the_schema():
    shipped = json.loads((ROOT / "archspec" / "spec.schema.json").read_text())
    assert shipped == json_schema() and shipped["$id"] == SCHEMA_ID
