"""Graphs: from:, blocks with arguments, repeat (concrete and symbolic), several inputs and outputs."""

import copy

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.dims import evaluate_at
from archspec.errors import ShapeError, SpecError
from tests.conftest import SPECS

COUNTS = ("params", "buffers", "macs", "flops", "activations")


def residual_spec(repeat, channels=8, size=10, k=3):
    """A stem conv, then a shape-preserving residual block applied `repeat` times."""
    return {
        "params": {"B": 2, "N": repeat},
        "inputs": {"x": {"shape": ["B", 3, size, size]}},
        "blocks": {
            "Res": {
                "args": {"ch": None, "k": 3},
                "layers": [
                    {"name": "conv", "type": "Conv2d", "out_channels": "ch", "kernel_size": "k", "padding": "k // 2"},
                    {"name": "bn", "type": "BatchNorm2d"},
                    {"name": "act", "type": "ReLU"},
                    {"name": "add", "type": "Add", "from": ["act", "input"]},
                ],
            }
        },
        "layers": [
            {"name": "stem", "type": "Conv2d", "out_channels": channels, "kernel_size": 1},
            {"name": "body", "type": "Res", "ch": channels, "k": k, "repeat": "N"},
            {"name": "pool", "type": "AdaptiveAvgPool2d", "output_size": 1},
        ],
    }


def block_costs(report, prefix):
    return {key: sum(getattr(row, key) for row in report.layers if row.name.startswith(prefix)) for key in COUNTS}


@given(repeat=st.integers(0, 5), channels=st.integers(1, 12), size=st.integers(3, 12), k=st.sampled_from([1, 3, 5]))
def test_a_shape_preserving_block_repeated_n_times_costs_n_applications(repeat, channels, size, k):
    once = block_costs(archspec.analyze(residual_spec(1, channels, size, k)), "body.")
    report = archspec.analyze(residual_spec(repeat, channels, size, k))
    assert block_costs(report, "body.") == {key: repeat * value for key, value in once.items()}
    assert len([row for row in report.layers if row.name.startswith("body.")]) == 4 * repeat
    if repeat > 1:
        assert [row.name for row in report.layers][1:5] == ["body.0.conv", "body.0.bn", "body.0.act", "body.0.add"]


@given(repeat=st.integers(0, 6), channels=st.integers(1, 12))
def test_a_free_repeat_count_gives_a_formula_equal_to_the_unrolled_counts(repeat, channels):
    formula = archspec.analyze(residual_spec(repeat, channels), N=None)
    unrolled = archspec.analyze(residual_spec(repeat, channels))
    for key in COUNTS:
        assert evaluate_at(formula.totals[key], {"N": repeat}) == unrolled.totals[key], key
    symbolic_rows = [row for row in formula.layers if "*" in row.path]
    assert [row.name for row in symbolic_rows] == ["body.*.conv", "body.*.bn", "body.*.act", "body.*.add"]
    assert all(str(row.times) == "N" for row in symbolic_rows)


def test_a_free_repeat_of_a_shape_changing_unit_is_an_error():
    spec = residual_spec(2)
    spec["layers"][1] = {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "repeat": "N"}
    with pytest.raises(ShapeError) as info:
        archspec.analyze(spec, N=None)
    message = str(info.value)
    assert "layers[1] (conv2d_1, Conv2d)" in message
    assert "must keep its input shape [2, 8, 10, 10], but it returns [2, 8, 8, 8]" in message


def test_graph_totals_are_the_sum_over_nodes_and_collapsing_keeps_them():
    report = archspec.analyze(SPECS / "resnet50.yaml")
    for key in COUNTS:
        assert report.totals[key] == sum(getattr(row, key) for row in report.layers)
    for depth in (1, 2, 3):
        collapsed = report.collapsed(depth)
        assert collapsed.totals == report.totals
        for key in COUNTS:
            assert sum(getattr(row, key) for row in collapsed.layers) == report.totals[key]
    top = report.collapsed(1)
    assert [row.name for row in top.layers][4:8] == ["layer1", "layer2", "layer3", "layer4"]
    assert top.layers[5].type == "Stage" and top.layers[5].output_shape == (1, 512, 28, 28)
    assert [row.name for row in report.collapsed(2).layers][4:6] == ["layer1.first", "layer1.rest"]


def _rename(node, mapping):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "name":
                out[key] = mapping.get(value, value)
            elif key == "from":
                out[key] = [mapping.get(v, v) for v in value] if isinstance(value, list) else mapping.get(value, value)
            else:
                out[key] = _rename(value, mapping)
        return out
    if isinstance(node, list):
        return [_rename(item, mapping) for item in node]
    return node


@given(suffix=st.text("abcxyz_019", min_size=1, max_size=6))
def test_renaming_layers_changes_no_count(suffix):
    original = yaml.safe_load((SPECS / "squeezenet1_1.yaml").read_text())
    names = {"squeeze", "squeeze_relu", "expand1x1", "expand1x1_relu", "expand3x3", "expand3x3_relu", "cat", "dropout", "final_conv"}
    renamed = _rename(copy.deepcopy(original), {name: f"n{suffix}_{name}" for name in names})
    assert archspec.analyze(renamed).totals == archspec.analyze(original).totals


def test_several_inputs_and_outputs():
    report = archspec.analyze(
        {
            "inputs": {"image": {"shape": [2, 3, 8, 8]}, "mask": {"shape": [2, 1, 8, 8]}},
            "layers": [
                {"name": "features", "from": "image", "type": "Conv2d", "out_channels": 4, "kernel_size": 1},
                {"name": "gated", "type": "Mul", "from": ["features", "mask"]},
                {"name": "halves", "type": "Split", "split_size_or_sections": [1, 3], "dim": 1},
                {"name": "pooled", "from": "halves.1", "type": "AdaptiveAvgPool2d", "output_size": 1},
            ],
            "outputs": ["halves.0", "pooled"],
        }
    )
    assert report.outputs == {"halves.0": (2, 1, 8, 8), "pooled": (2, 3, 1, 1)}
    assert report.layers[1].input_shapes == ((2, 4, 8, 8), (2, 1, 8, 8))
    assert report.layers[1].flops == 2 * 4 * 8 * 8  # one multiply per output element
    assert report.layers[2].output_shapes == ((2, 1, 8, 8), (2, 3, 8, 8))


def test_block_arguments_default_in_order_and_reach_nested_blocks():
    report = archspec.analyze(
        {
            "params": {"width": 6},
            "inputs": {"x": {"shape": [1, 5]}},
            "blocks": {
                "Inner": {"args": {"n": None}, "layers": [{"type": "Linear", "out_features": "n"}]},
                "Outer": {
                    "args": {"a": None, "b": "2 * a"},
                    "layers": [{"name": "one", "type": "Inner", "n": "b"}, {"name": "two", "type": "Inner", "n": "width"}],
                },
            },
            "layers": [{"name": "o", "type": "Outer", "a": 3}],
        }
    )
    assert [(row.name, row.output_shape) for row in report.layers] == [("o.one.linear_0", (1, 6)), ("o.two.linear_0", (1, 6))]
    assert report.layers[0].types == ("Outer", "Inner", "Linear")


def problems(spec):
    with pytest.raises(SpecError) as info:
        archspec.analyze(spec)
    return [(p.where, p.message) for p in info.value.problems]


BASE = {"inputs": {"x": {"shape": [1, 4, 8, 8]}}}


def test_unknown_and_later_names_in_from():
    found = problems(
        {
            **BASE,
            "layers": [
                {"name": "conv", "type": "Conv2d", "out_channels": 4, "kernel_size": 1},
                {"name": "a", "type": "Add", "from": ["conv", "cnov"]},
                {"name": "b", "type": "Add", "from": ["a", "c"]},
                {"name": "c", "type": "Add", "from": ["c", "x"]},
            ],
        }
    )
    assert ("layers[1] (a, Add)", "from: unknown name 'cnov'; did you mean 'conv'? (known here: x, conv)") in found
    assert any(w == "layers[2] (b, Add)" and "'c' is a later layer" in m and "cycle" in m for w, m in found)
    assert any(w == "layers[3] (c, Add)" and "'c' is this layer itself" in m for w, m in found)


def test_add_and_concat_show_both_shapes_on_a_mismatch():
    spec = {
        **BASE,
        "layers": [
            {"name": "conv", "type": "Conv2d", "out_channels": 4, "kernel_size": 3},
            {"name": "sum", "type": "Add", "from": ["conv", "x"]},
        ],
    }
    with pytest.raises(ShapeError) as info:
        archspec.analyze(spec)
    assert "cannot broadcast [1, 4, 6, 6] and [1, 4, 8, 8]: at dim -2 the sizes 6 and 8 differ" in str(info.value)
    spec["layers"][1] = {"name": "cat", "type": "Concat", "from": ["conv", "x"]}
    with pytest.raises(ShapeError) as info:
        archspec.analyze(spec)
    assert "cannot concatenate [1, 4, 6, 6], [1, 4, 8, 8] along dim 1" in str(info.value)


def test_block_errors_name_the_block_and_the_argument():
    found = problems(
        {
            **BASE,
            "blocks": {
                "Res": {"args": {"ch": None}, "layers": [{"type": "Conv2d", "out_channels": "ch", "kernel_size": 1}]},
                "Loop": {"layers": [{"type": "Loop2"}]},
                "Loop2": {"layers": [{"type": "Loop"}]},
            },
            "layers": [{"type": "Res", "chh": 3}, {"type": "Rse", "ch": 4}],
        }
    )
    assert ("layers[0] (res_0, Res)", "unknown argument 'chh' for block Res; did you mean 'ch'? (arguments: ch)") in found
    assert ("layers[0] (res_0, Res)", "missing required argument 'ch' for block Res") in found
    assert ("layers[1] (rse_0)", "unknown layer or block type 'Rse'; did you mean 'Res'?") in found
    assert any("blocks cannot be recursive" in m and "Loop -> Loop2 -> Loop" in m for _, m in found)


def test_a_shape_error_inside_a_block_names_the_application_path(tmp_path):
    spec = residual_spec(3)
    spec["layers"][1]["ch"] = 9  # the residual Add sees 9 and 8 channels
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(ShapeError) as info:
        archspec.analyze(path)
    (problem,) = info.value.problems
    assert problem.where == "blocks.Res.layers[3] (add, Add) at body.0"
    assert problem.file == str(path) and problem.line is not None
    assert "cannot broadcast [2, 9, 10, 10] and [2, 8, 10, 10]" in problem.message


def test_multi_output_layers_must_be_indexed():
    spec = {**BASE, "layers": [{"name": "parts", "type": "Chunk", "chunks": 2, "dim": 1}, "ReLU"]}
    with pytest.raises(ShapeError, match=r"'parts' has 2 outputs; name one as parts.0 or parts.1"):
        archspec.analyze(spec)
    spec["layers"][1] = {"type": "ReLU", "from": "parts.2"}
    with pytest.raises(ShapeError, match=r"parts.2 names output 2, but 'parts' has 2 output"):
        archspec.analyze(spec)


def test_arity_and_first_layer_input_checks():
    found = problems(
        {
            "inputs": {"a": {"shape": [1, 4]}, "b": {"shape": [1, 4]}},
            "layers": [{"type": "ReLU"}, {"type": "Add"}, {"type": "Linear", "out_features": 2, "from": ["a", "b"]}],
        }
    )
    assert ("layers[0] (relu_0, ReLU)", "the first layer must say which input it takes with from: (inputs: a, b)") in found
    assert any(w == "layers[1] (add_0, Add)" and "Add takes 2 or more input(s), found the previous output only" in m for w, m in found)
    assert any(w == "layers[2] (linear_0, Linear)" and "Linear takes 1 input(s), found 2 (a, b)" in m for w, m in found)


def test_block_names_cannot_shadow_layer_types():
    found = problems({**BASE, "blocks": {"ReLU": {"layers": ["Tanh"]}}, "layers": ["ReLU"]})
    assert any("block name 'ReLU' is already a layer type" in m for _, m in found)


def test_a_tied_head_counts_its_macs_but_not_the_shared_weight():
    spec = {
        "params": {"L": 8},
        "inputs": {"ids": {"shape": [2, "L"], "dtype": "int64"}},
        "layers": [
            {"name": "wte", "type": "Embedding", "num_embeddings": 100, "embedding_dim": 16},
            {"name": "head", "type": "Linear", "out_features": 100, "bias": False, "shares": "wte"},
        ],
    }
    report = archspec.analyze(spec)
    head = report.layers[1]
    assert (head.params, head.macs, head.shares) == (0, 2 * 8 * 16 * 100, "wte")
    assert report.totals["params"] == 100 * 16
    assert report.to_dict()["layers"][1]["shares"] == "wte"
    spec["layers"][1]["out_features"] = 99
    with pytest.raises(ShapeError, match=r"shares: the weight \[99, 16\] does not match wte's \[100, 16\]"):
        archspec.analyze(spec)
    spec["layers"][1].update(out_features=100, shares="wtf")
    assert any("shares: unknown layer 'wtf'; did you mean 'wte'?" in m for _, m in problems(spec))


def encoder_decoder(n_layers):
    """A decoder block that reads the encoder output, repeated: its depth can be a param."""
    return {
        "params": {"B": 2, "T": 6, "S": 9, "N": n_layers},
        "inputs": {"tokens": {"shape": ["B", "T", 16]}, "memory": {"shape": ["B", "S", 16]}},
        "blocks": {"Decoder": {"inputs": ["x", "encoder_output"], "layers": [
            {"name": "self_attn", "type": "Attention", "num_heads": 2, "causal": True, "from": "x"},
            {"name": "cross_attn", "type": "Attention", "num_heads": 2, "from": ["self_attn", "encoder_output"]},
            {"name": "residual", "type": "Add", "from": ["cross_attn", "x"]},
        ]}},
        "layers": [{"name": "decoder", "type": "Decoder", "from": ["tokens", "memory"], "repeat": "N"}],
    }


@given(st.integers(0, 5))
def test_a_block_with_several_inputs_repeats_over_its_first_input(n_layers):
    report = archspec.analyze(encoder_decoder(n_layers))
    one = archspec.analyze(encoder_decoder(1))
    for key in ("params", "macs", "flops", "activations"):
        assert report.totals[key] == n_layers * one.totals[key], key
    cross = [row for row in report.layers if row.name.endswith("cross_attn")]
    assert all(row.input_shapes[1] == (2, 9, 16) for row in cross)  # every layer reads the same memory
    if n_layers:
        assert report.outputs["decoder"] == (2, 6, 16)
    free = archspec.analyze(encoder_decoder(n_layers), N=None)
    for key in ("params", "macs", "flops"):
        assert evaluate_at(free.totals[key], {"N": n_layers}) == report.totals[key], key
    from archspec.memory import MemoryOptions, memory

    caches = [memory(r, MemoryOptions(training=False)).totals["kv_cache"] for r in (report, free)]
    assert evaluate_at(caches[1], {"N": n_layers}) == caches[0]  # the free depth multiplies the cache too
