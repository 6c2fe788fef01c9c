"""The analysis as a whole: bindings, symbolic params, invariants over random layer stacks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.dims import evaluate_at
from archspec.errors import SpecError
from tests.conftest import SPECS
from tests.helpers import spec

SHAPE_PRESERVING = ["ReLU", "Tanh", "SiLU", "Identity", "Dropout", "BatchNorm2d", "Hardswish"]


@st.composite
def cnn_stacks(draw):
    """Random small CNNs on 64x64 inputs (five layers shrink it at most to 2x2): conv, pool,
    activation layers, then flatten and a linear head."""
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "act"]))
        if kind == "conv":
            layers.append(
                {
                    "type": "Conv2d",
                    "out_channels": draw(st.integers(1, 8)),
                    "kernel_size": draw(st.integers(1, 3)),
                    "padding": draw(st.integers(0, 1)),
                    "bias": draw(st.booleans()),
                }
            )
        elif kind == "pool":
            layers.append({"type": draw(st.sampled_from(["MaxPool2d", "AvgPool2d"])), "kernel_size": 2, "ceil_mode": True})
        else:
            layers.append(draw(st.sampled_from(SHAPE_PRESERVING)))
    layers += ["Flatten", {"type": "Linear", "out_features": draw(st.integers(1, 10))}]
    return layers


@given(cnn_stacks(), st.integers(2, 9))
def test_counts_are_linear_in_the_batch_size(layers, batch):
    single = archspec.analyze(spec(["B", 3, 64, 64], layers, {"B": 1}))
    many = archspec.analyze(spec(["B", 3, 64, 64], layers, {"B": 1}), B=batch)
    symbolic = archspec.analyze(spec(["B", 3, 64, 64], layers, {"B": None}))
    for key in ("macs", "flops", "activations"):
        assert many.totals[key] == batch * single.totals[key]
        assert evaluate_at(symbolic.totals[key], {"B": batch}) == many.totals[key]
    assert many.totals["params"] == single.totals["params"] == symbolic.totals["params"]


def params_by_hand(layers, channels, size):
    """An independent walk of a random stack: track channels and the square size, sum params."""
    params = 0
    for layer in layers:
        kind = layer if isinstance(layer, str) else layer["type"]
        if kind == "Conv2d":
            k, p, out = layer["kernel_size"], layer["padding"], layer["out_channels"]
            params += out * channels * k * k + (out if layer["bias"] else 0)
            channels, size = out, size + 2 * p - k + 1
        elif kind in ("MaxPool2d", "AvgPool2d"):
            size = -(-size // 2)  # kernel 2, stride 2, ceil_mode
        elif kind == "BatchNorm2d":
            params += 2 * channels
        elif kind == "Flatten":
            channels, size = channels * size * size, 1
        elif kind == "Linear":
            params += channels * layer["out_features"] + layer["out_features"]
    return params


@given(cnn_stacks())
def test_params_equal_an_independent_count(layers):
    report = archspec.analyze(spec([1, 3, 64, 64], layers))
    assert report.totals["params"] == params_by_hand(layers, 3, 64)


@given(cnn_stacks())
def test_totals_are_the_sum_of_the_rows(layers):
    report = archspec.analyze(spec([2, 3, 64, 64], layers))
    for key in ("params", "buffers", "macs", "flops"):
        assert report.totals[key] == sum(getattr(row, key) for row in report.layers)
    assert report.totals["activations"] == sum(row.activations for row in report.layers)


@given(st.integers(8, 64), st.integers(1, 4))
def test_symbolic_resolution_equals_binding_before_analysis(h, b):
    symbolic = archspec.analyze(SPECS / "alexnet.yaml", B=None, H=None, W=None)
    assert evaluate_at(symbolic.totals["macs"], {"B": b, "H": 8 * h, "W": 8 * h}) == (
        archspec.analyze(SPECS / "alexnet.yaml", B=b, H=8 * h, W=8 * h).totals["macs"]
    )


def test_params_may_be_expressions_of_earlier_params():
    report = archspec.analyze(spec([1, "c_in", 8], [{"type": "Conv1d", "out_channels": "2*width", "kernel_size": 3}], {"width": 4, "c_in": "width // 2"}))
    assert report.layers[0].output_shape == (1, 8, 6)
    assert report.params == {"width": 4, "c_in": 2}


def test_binding_accepts_expression_strings():
    report = archspec.analyze(SPECS / "seed_mnist.yaml", B="2*3", k=4)
    assert report.inputs == {"x": (6, 1, 28, 28)}
    assert report.layers[0].output_shape == (6, 4, 26, 26)


def test_fully_bound_analysis_does_not_import_sympy():
    import subprocess
    import sys

    code = "import archspec, sys; archspec.analyze(sys.argv[1]); print('sympy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code, str(SPECS / "vgg16.yaml")], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_unknown_binding_suggests_the_param():
    with pytest.raises(SpecError, match="cannot set unknown param 'b'; did you mean 'B'"):
        archspec.analyze(SPECS / "seed_mnist.yaml", b=2)


def test_report_to_dict_has_the_documented_keys():
    data = archspec.analyze(SPECS / "seed_mnist.yaml", B=None).to_dict()
    assert set(data) == {"name", "params", "inputs", "outputs", "totals", "layers"}
    assert set(data["totals"]) == {"params", "active_params", "buffers", "macs", "flops", "activations"}
    assert data["totals"]["params"] == 370_338
    assert data["totals"]["macs"] == "529940*B"
    assert data["inputs"] == {"x": ["B", 1, 28, 28]}
    assert {"name", "type", "input_shapes", "output_shapes", "params", "macs", "flops", "activations"} <= set(data["layers"][0])
