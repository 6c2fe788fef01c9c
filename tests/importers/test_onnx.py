"""ONNX model -> spec (archspec.importers.onnx): every mapped operator on a small graph built
with onnx.helper (params = the initializers that are weights, output shapes = onnx's own
shape inference, MACs = the layer's formula), symbolic dims, folded shape subgraphs, unknown
operators, the wire reader, the CLI, and the torchvision figures of
tests/reference/onnx_models_measured.json (made by tests/reference/export_onnx_models.py)."""

import json
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import sympy
import yaml

import archspec
from archspec.errors import SpecError
from archspec.importers import import_spec, source_kind
from archspec.importers.draft import render

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from archspec.importers.onnx import UnknownOpsWarning, import_onnx  # noqa: E402
from archspec.importers.onnx.table import OPS  # noqa: E402
from archspec.importers.onnx.wire import strip  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MEASURED = ROOT / "tests" / "reference" / "onnx_models_measured.json"
RNG = np.random.default_rng(0)


def W(*dims):
    """A float32 weight with distinct values (an exporter would share equal ones)."""
    return RNG.standard_normal(dims).astype(np.float32) if dims else np.float32(RNG.standard_normal())


def I(*values):  # noqa: E743 - an int64 constant
    return np.array(values, dtype=np.int64)


def F(*values):
    return np.array(values, dtype=np.float32)


@dataclass
class Case:
    """A one-operator (or few-operator) graph and what its spec must count."""

    id: str
    nodes: list
    inputs: dict  # name -> shape, or (shape, element type)
    initializers: dict = field(default_factory=dict)
    macs: int = 0
    types: set = field(default_factory=set)  # layer types the spec must use
    ops: set = field(default_factory=set)  # ONNX operators covered (default: the nodes')
    buffers: set = field(default_factory=set)  # initializers that are not weights (running stats, a number)
    opset: int = 17
    outputs: list = field(default_factory=lambda: ["y"])
    constants: dict = field(default_factory=dict)  # Constant nodes: name -> value
    shapes: list | None = None  # output shapes, where onnx's shape inference gives none
    domains: dict = field(default_factory=dict)  # other operator domains -> version (no shape inference then)

    def model(self):
        inputs = []
        for name, spec in self.inputs.items():
            shape, dtype = spec if isinstance(spec, tuple) else (spec, TensorProto.FLOAT)
            inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        constants = [helper.make_node("Constant", [], [name], name=f"/const_{name}", value=numpy_helper.from_array(np.asarray(v), name))
                     for name, v in self.constants.items()]
        outputs = [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in self.outputs]
        initializers = [numpy_helper.from_array(np.asarray(v), name) for name, v in self.initializers.items()]
        graph = helper.make_graph(constants + self.nodes, self.id, inputs, outputs, initializers)
        opsets = [helper.make_opsetid("", self.opset), *(helper.make_opsetid(d, v) for d, v in self.domains.items())]
        model = helper.make_model(graph, opset_imports=opsets)
        return model if self.domains else onnx.shape_inference.infer_shapes(model, strict_mode=True)

    def weights(self) -> int:
        return sum(int(np.asarray(v).size) for name, v in self.initializers.items()
                   if np.asarray(v).dtype.kind == "f" and name not in self.buffers)


def node(op, inputs, outputs=("y",), name=None, **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=name or f"/block/{op}", **attrs)


X4 = {"x": [2, 3, 8, 8]}
UNARY = [("Relu", "ReLU"), ("Sigmoid", "Sigmoid"), ("Tanh", "Tanh"), ("Erf", "Erf"), ("HardSwish", "Hardswish"),
         ("Softplus", "Softplus"), ("Exp", "Exp"), ("Log", "Log"), ("Sqrt", "Sqrt"), ("Abs", "Abs"), ("Neg", "Neg"),
         ("Sin", "Sin"), ("Cos", "Cos"), ("Reciprocal", "Pow")]

CASES = [
    Case("conv", [node("Conv", ["x", "W", "B"], pads=[1, 1, 1, 1], strides=[2, 2])], X4,
         {"W": W(4, 3, 3, 3), "B": W(4)}, macs=2 * 4 * 4 * 4 * 3 * 9, types={"Conv2d"}),
    Case("conv_grouped_asymmetric_pads", [node("Conv", ["x", "W"], group=2, pads=[0, 0, 1, 1])], {"x": [1, 4, 9, 9]},
         {"W": W(6, 2, 3, 3)}, macs=6 * 8 * 8 * 2 * 9, types={"Pad", "Conv2d"}),
    Case("conv_same_upper", [node("Conv", ["x", "W"], auto_pad="SAME_UPPER", strides=[2])], {"x": [1, 3, 10]},
         {"W": W(5, 3, 4)}, macs=5 * 5 * 3 * 4, types={"Conv1d"}),
    Case("conv_transpose", [node("ConvTranspose", ["x", "W", "B"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
         {"x": [1, 4, 5, 5]}, {"W": W(4, 2, 3, 3), "B": W(2)}, macs=4 * 5 * 5 * 2 * 9, types={"ConvTranspose2d"}),
    Case("gemm_linear", [node("Gemm", ["x", "W", "B"], transB=1)], {"x": [2, 8]}, {"W": W(5, 8), "B": W(5)},
         macs=2 * 8 * 5, types={"Linear"}),
    Case("gemm_scaled", [node("Gemm", ["x", "W"], alpha=0.5, transA=1)], {"x": [8, 2]}, {"W": W(8, 5)},
         macs=2 * 8 * 5, types={"Transpose", "Linear", "Mul"}),
    Case("gemm_activations", [node("Gemm", ["a", "b", "c"], transB=1)], {"a": [2, 8], "b": [5, 8], "c": [2, 5]},
         macs=2 * 8 * 5, types={"Transpose", "Matmul", "Add"}),
    Case("gemm_activation_with_stored_bias", [node("Gemm", ["a", "b", "C"])], {"a": [2, 8], "b": [8, 5]}, {"C": W(5)},
         macs=2 * 8 * 5, types={"Matmul", "Parameter", "Add"}),
    Case("matmul_linear_bias", [node("MatMul", ["x", "W"], ["t"], name="/fc/MatMul"), node("Add", ["B", "t"], name="/fc/Add")],
         {"x": [2, 3, 8]}, {"W": W(8, 6), "B": W(6)}, macs=2 * 3 * 8 * 6, types={"Linear"}),
    Case("matmul_activations", [node("MatMul", ["a", "b"])], {"a": [2, 4, 5], "b": [2, 5, 3]}, macs=2 * 4 * 5 * 3,
         types={"Matmul"}),
    Case("einsum", [node("Einsum", ["a", "b"], equation="bij,bjk->bik")], {"a": [2, 3, 4], "b": [2, 4, 5]},
         macs=2 * 3 * 4 * 5, types={"Einsum"}),
    Case("add_sub_mul_div", [node("Add", ["a", "b"], ["s"], name="/m/Add"), node("Sub", ["s", "b"], ["d"], name="/m/Sub"),
                             node("Mul", ["d", "a"], ["p"], name="/m/Mul"), node("Div", ["p", "b"], name="/m/Div")],
         {"a": [2, 3, 4], "b": [3, 4]}, types={"Add", "Mul"}),
    Case("arithmetic_with_numbers", [node("Add", ["x", "one"], ["a"], name="/m/Add"), node("Sub", ["a", "two"], ["s"], name="/m/Sub"),
                                     node("Sub", ["two", "s"], ["r"], name="/m/Sub_1"), node("Mul", ["r", "two"], ["p"], name="/m/Mul"),
                                     node("Div", ["p", "two"], ["q"], name="/m/Div"), node("Div", ["one", "q"], name="/m/Div_1")],
         X4, {"one": F(1.0)}, constants={"two": np.float32(2.0)}, types={"Add", "Mul", "Pow"}, buffers={"one"}),
    Case("parameter_operand", [node("Add", ["x", "P"])], {"x": [2, 3, 4]}, {"P": W(3, 4)}, types={"Parameter", "Add"}),
    *[Case(f"unary_{op}", [node(op, ["x"])], X4, types={layer}) for op, layer in UNARY],
    Case("leaky_relu", [node("LeakyRelu", ["x"], alpha=0.2)], X4, types={"LeakyReLU"}),
    Case("hard_sigmoid", [node("HardSigmoid", ["x"], alpha=1 / 6, beta=0.5)], X4, types={"Hardsigmoid"}),
    Case("softmax", [node("Softmax", ["x"], axis=1)], {"x": [2, 5, 3]}, types={"Softmax"}),
    Case("softmax_opset11", [node("Softmax", ["x"], axis=2)], {"x": [2, 5, 3]}, types={"Softmax"}, opset=11),
    Case("gelu_opset20", [node("Gelu", ["x"], approximate="tanh")], X4, types={"GELU"}, opset=20),
    Case("clip_relu6", [node("Clip", ["x", "zero", "six"])], X4, constants={"zero": np.float32(0), "six": np.float32(6)},
         types={"ReLU6"}),
    Case("clip_relu", [node("Clip", ["x", "zero"])], X4, constants={"zero": np.float32(0)}, types={"ReLU"}),
    Case("clip_clamp", [node("Clip", ["x", "low", "high"])], X4, constants={"low": np.float32(-1), "high": np.float32(1)},
         types={"Clamp"}),
    Case("pow", [node("Pow", ["x", "two"])], X4, constants={"two": np.float32(2)}, types={"Pow"}),
    Case("where", [node("Where", ["c", "a", "b"])], {"c": ([2, 3], TensorProto.BOOL), "a": [2, 3], "b": [3]}, types={"Where"}),
    Case("cumsum", [node("CumSum", ["x", "axis"])], {"x": [2, 5]}, constants={"axis": np.int64(1)}, types={"Cumsum"}),
    Case("topk", [node("TopK", ["x", "k"], ["y", "i"], axis=1)], {"x": [2, 5]}, constants={"k": I(3)}, types={"TopK"},
         outputs=["y", "i"]),
    Case("dropout", [node("Dropout", ["x"])], X4, types={"Dropout"}),
    Case("sum", [node("Sum", ["a", "b", "c"])], {"a": [2, 3], "b": [2, 3], "c": [3]}, types={"Add"}),
    Case("batch_norm", [node("BatchNormalization", ["x", "s", "B", "m", "v"], epsilon=1e-3)], X4,
         {"s": W(3), "B": W(3), "m": W(3), "v": W(3)}, buffers={"m", "v"}, types={"BatchNorm2d"}),
    Case("layer_norm", [node("LayerNormalization", ["x", "s", "B"], epsilon=1e-6)], {"x": [2, 5, 8]}, {"s": W(8), "B": W(8)},
         types={"LayerNorm"}),
    Case("layer_norm_two_dims", [node("LayerNormalization", ["x", "s"], axis=1)], {"x": [2, 5, 8]}, {"s": W(5, 8)},
         types={"LayerNorm"}),
    Case("group_norm", [node("GroupNormalization", ["x", "s", "B"], num_groups=2)], {"x": [2, 4, 3, 3]},
         {"s": W(4), "B": W(4)}, types={"GroupNorm"}, opset=21, shapes=[(2, 4, 3, 3)]),
    Case("instance_norm", [node("InstanceNormalization", ["x", "s", "B"])], X4, {"s": W(3), "B": W(3)},
         types={"InstanceNorm2d"}),
    Case("max_pool", [node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], X4, types={"MaxPool2d"}),
    Case("max_pool_ceil", [node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], {"x": [1, 2, 8, 8]},
         types={"MaxPool2d"}),
    Case("average_pool", [node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2])], X4, types={"AvgPool2d"}),
    Case("global_pools", [node("GlobalAveragePool", ["x"], ["a"]), node("GlobalMaxPool", ["a"])], X4,
         types={"AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}),
    Case("flatten", [node("Flatten", ["x"], ["f"]), node("Flatten", ["x"], ["g"], axis=2), node("Flatten", ["x"], ["h"], axis=-1)],
         X4, types={"Flatten", "Reshape"}, outputs=["f", "g", "h"]),
    Case("reshape", [node("Reshape", ["x", "shape"])], {"x": [2, 3, 4]}, constants={"shape": I(0, -1)}, types={"Reshape"}),
    Case("transpose_permute", [node("Transpose", ["x"], ["t"], perm=[0, 2, 1]), node("Transpose", ["x"], ["p"], perm=[2, 0, 1])],
         {"x": [2, 3, 4]}, types={"Transpose", "Permute"}, outputs=["t", "p"]),
    Case("squeeze_unsqueeze", [node("Squeeze", ["x", "one"], ["s"]), node("Unsqueeze", ["s", "zero"])], {"x": [2, 1, 4]},
         constants={"one": I(1), "zero": I(0)}, types={"Reshape"}),
    Case("concat_parameter", [node("Concat", ["x", "P"], axis=1)], {"x": [1, 2, 4]}, {"P": W(1, 3, 4)}, types={"Concat", "Parameter"}),
    Case("split", [node("Split", ["x", "sizes"], ["y", "z"], axis=1)], {"x": [2, 5]}, constants={"sizes": I(2, 3)},
         types={"Split"}, outputs=["y", "z"]),
    Case("slice", [node("Slice", ["x", "starts", "ends", "axes", "steps"])], {"x": [2, 10, 4]},
         constants={"starts": I(1, -3), "ends": I(9, 2**63 - 1), "axes": I(1, 2), "steps": I(2, 1)}, types={"Slice"}),
    Case("gather_index_slice_select", [node("Gather", ["x", "zero"], ["g"], axis=1), node("Gather", ["x", "run"], ["r"], axis=1),
                                       node("Gather", ["x", "pick"], ["p"], axis=1)],
         {"x": [2, 5, 4]}, constants={"zero": np.int64(0), "run": I(1, 2, 3), "pick": I(4, 0)},
         types={"Index", "Slice", "IndexSelect"}, outputs=["g", "r", "p"]),
    Case("embedding", [node("Gather", ["table", "ids"])], {"ids": ([2, 7], TensorProto.INT64)}, {"table": W(10, 4)},
         types={"Embedding"}),
    Case("gather_elements", [node("GatherElements", ["x", "i"], axis=1)], {"x": [2, 3], "i": ([2, 3], TensorProto.INT64)},
         types={"Gather"}),
    Case("resize_nearest", [node("Resize", ["x", "", "scales"])], {"x": [1, 2, 3, 3]}, constants={"scales": F(1, 1, 2, 2)},
         types={"Upsample"}),
    Case("resize_linear_sizes", [node("Resize", ["x", "", "", "sizes"], mode="linear")], {"x": [1, 2, 3, 3]},
         constants={"sizes": I(1, 2, 5, 7)}, types={"Upsample"}),
    Case("upsample_opset9", [node("Upsample", ["x", "scales"])], {"x": [1, 2, 3, 3]}, constants={"scales": F(1, 1, 2, 2)},
         types={"Upsample"}, opset=9),
    Case("pad", [node("Pad", ["x", "pads"], mode="reflect")], {"x": [1, 2, 4, 4]}, constants={"pads": I(0, 0, 1, 2, 0, 0, 1, 2)},
         types={"Pad"}),
    Case("reduce_mean", [node("ReduceMean", ["x"], axes=[2, 3], keepdims=1)], X4, types={"Mean"}),
    Case("reduce_sum", [node("ReduceSum", ["x", "axes"], keepdims=0)], X4, constants={"axes": I(1)}, types={"Einsum"}),
    Case("identity_cast", [node("Identity", ["x"], ["i"]), node("Cast", ["i"], ["c"], to=TensorProto.FLOAT), node("Relu", ["c"])],
         X4, types={"ReLU"}),
    Case("expand", [node("Expand", ["x", "shape"])], {"x": [1, 1, 4]}, constants={"shape": I(3, 1, 4)}, types={"Expand"}),
    Case("tile", [node("Tile", ["x", "repeats"])], {"x": [2, 3]}, constants={"repeats": I(2, 1)}, types={"Repeat"}),
    Case("size", [node("Size", ["x"], ["n"], name="/m/Size"), node("Unsqueeze", ["n", "zero"], ["n1"], name="/m/Unsqueeze"),
                  node("Reshape", ["x", "n1"], ["f"], name="/m/Reshape"), node("Relu", ["f"])],
         {"x": [2, 3]}, constants={"zero": I(0)}, types={"Reshape", "ReLU"}, ops={"Size"}, shapes=[(6,)]),
]


def _covered() -> set:
    ops = set()
    for case in CASES:
        ops |= case.ops or {n.op_type for n in case.nodes}
    return ops | {"Constant", "Shape"}  # Shape: test_shape_subgraph_folds


def spec_of(model, **options) -> str:
    return render(import_onnx(model.SerializeToString(), "test.onnx", **options))


def layer_types(text: str) -> set:
    return {layer["type"] for layer in yaml.safe_load(text)["layers"]}


def declared_shapes(model) -> list:
    return [tuple(d.dim_value if d.HasField("dim_value") else d.dim_param for d in o.type.tensor_type.shape.dim)
            for o in model.graph.output]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_operator(case):
    model = case.model()
    text = spec_of(model)
    report = archspec.analyze(text)
    assert report.totals["params"] == case.weights()
    assert report.totals["macs"] == case.macs
    assert [tuple(s) for s in report.outputs.values()] == (case.shapes or declared_shapes(model))
    assert case.types <= layer_types(text), text


def test_every_mapped_operator_has_a_case():
    assert set(OPS) - _covered() == set()


def test_batch_norm_stats_are_buffers():
    case = next(c for c in CASES if c.id == "batch_norm")
    report = archspec.analyze(spec_of(case.model()))
    assert (report.totals["params"], report.totals["buffers"]) == (6, 7)  # + num_batches_tracked, as torch


def _conv_on(shape, **extra):
    case = Case("conv", [node("Conv", ["x", "W"], name="/features/features.0/conv/Conv", pads=[1, 1, 1, 1])],
                {"x": shape}, {"W": W(4, 3, 3, 3)}, **extra)
    return case.model()


def test_symbolic_batch_dim_is_a_param():
    text = spec_of(_conv_on(["batch", 3, 8, 8]))
    data = yaml.safe_load(text)
    assert data["params"] == {"batch": 1}
    assert "symbolic" in text and "dim_param 'batch'" in text
    assert data["inputs"]["x"]["shape"] == ["batch", 3, 8, 8]
    report = archspec.analyze(text, batch=None)
    batch = sympy.Symbol("batch", positive=True, integer=True)
    assert sympy.simplify(report.totals["macs"] - 4 * 8 * 8 * 3 * 9 * batch) == 0
    assert archspec.analyze(text, batch=5).totals["macs"] == 5 * 4 * 8 * 8 * 27


def test_unsized_input_dim_is_a_param():
    text = spec_of(_conv_on([None, 3, 8, 8]))
    assert yaml.safe_load(text)["params"] == {"x_dim0": 1}


def test_shape_subgraph_folds_to_a_static_reshape():
    nodes = [
        node("Shape", ["x"], ["shape"], name="/Shape"),
        node("Gather", ["shape", "zero"], ["n"], name="/Gather", axis=0),
        node("Unsqueeze", ["n", "zero_axis"], ["n1"], name="/Unsqueeze"),
        node("Concat", ["n1", "minus_one"], ["target"], name="/Concat", axis=0),
        node("Reshape", ["x", "target"], ["flat"], name="/Reshape"),
        node("Relu", ["flat"], name="/Relu"),
    ]
    case = Case("fold", nodes, {"x": ["batch", 4, 6]},
                constants={"zero": np.int64(0), "zero_axis": I(0), "minus_one": I(-1)})
    text = spec_of(case.model())
    layers = yaml.safe_load(text)["layers"]
    assert [layer["type"] for layer in layers] == ["Reshape", "ReLU"]
    assert layers[0]["shape"] == ["batch", -1]
    assert archspec.analyze(text, batch=3).outputs == {"relu": (3, 24)}


def test_attention_with_symbolic_batch_and_sequence():
    """An exporter's attention: q, k, v from one projection reshaped through Shape -> Gather ->
    Concat, scores and context as Matmuls; counts are formulas in both symbols."""
    a = "/attn/"
    nodes = [
        node("MatMul", ["x", "Wqkv"], ["qkv"], name=a + "qkv/MatMul"),
        node("Shape", ["x"], ["shape"], name=a + "Shape"),
        node("Gather", ["shape", "i0"], ["b"], name=a + "Gather", axis=0),
        node("Gather", ["shape", "i1"], ["s"], name=a + "Gather_1", axis=0),
        node("Unsqueeze", ["b", "axis0"], ["b1"], name=a + "Unsqueeze"),
        node("Unsqueeze", ["s", "axis0"], ["s1"], name=a + "Unsqueeze_1"),
        node("Concat", ["b1", "s1", "heads"], ["target"], name=a + "Concat", axis=0),
        node("Reshape", ["qkv", "target"], ["split"], name=a + "Reshape"),
        node("Transpose", ["split"], ["perm"], name=a + "Transpose", perm=[2, 0, 3, 1, 4]),
        node("Gather", ["perm", "i0"], ["q"], name=a + "Gather_2", axis=0),
        node("Gather", ["perm", "i1"], ["k"], name=a + "Gather_3", axis=0),
        node("Gather", ["perm", "i2"], ["v"], name=a + "Gather_4", axis=0),
        node("Transpose", ["k"], ["kt"], name=a + "Transpose_1", perm=[0, 1, 3, 2]),
        node("MatMul", ["q", "kt"], ["scores"], name=a + "MatMul"),
        node("Div", ["scores", "root"], ["scaled"], name=a + "Div"),
        node("Softmax", ["scaled"], ["probs"], name=a + "Softmax", axis=-1),
        node("MatMul", ["probs", "v"], ["context"], name=a + "MatMul_1"),
        node("Transpose", ["context"], ["merged"], name=a + "Transpose_2", perm=[0, 2, 1, 3]),
        node("Concat", ["b1", "s1", "width"], ["target2"], name=a + "Concat_1", axis=0),
        node("Reshape", ["merged", "target2"], ["flat"], name=a + "Reshape_1"),
        node("MatMul", ["flat", "Wo"], ["o"], name=a + "out/MatMul"),
        node("Add", ["o", "bo"], name=a + "out/Add"),
    ]
    case = Case("attention", nodes, {"x": ["batch", "seq", 16]}, {"Wqkv": W(16, 48), "Wo": W(16, 16), "bo": W(16)},
                constants={"i0": np.int64(0), "i1": np.int64(1), "i2": np.int64(2), "axis0": I(0), "heads": I(3, 2, 8),
                           "width": I(16), "root": np.float32(8 ** 0.5)})
    text = spec_of(case.model())
    assert yaml.safe_load(text)["params"] == {"batch": 1, "seq": 1}
    report = archspec.analyze(text, batch=None, seq=None)
    batch, seq = (sympy.Symbol(n, positive=True, integer=True) for n in ("batch", "seq"))
    expected = batch * seq * 16 * 48 + 2 * batch * 2 * seq * seq * 8 + batch * seq * 16 * 16
    assert sympy.expand(report.totals["macs"] - expected) == 0
    assert report.totals["params"] == 16 * 48 + 16 * 16 + 16
    assert archspec.analyze(text, batch=2, seq=5).outputs == {"attn_out": (2, 5, 16)}


def test_index_arithmetic_over_a_symbolic_batch_keeps_its_shape():
    """torch's dynamo export of as_strided: Range(0, batch) and arithmetic on it index a
    flattened tensor. The values stay symbolic; the shapes are known, so the index is a Buffer."""
    nodes = [
        node("Reshape", ["x", "minus_one"], ["flat"], name="/head/Reshape"),
        node("Shape", ["x"], ["shape"], name="/head/Shape"),
        node("Gather", ["shape", "zero"], ["batch"], name="/head/Gather", axis=0),
        node("Range", ["zero", "batch", "one"], ["rows"], name="/head/Range"),
        node("Mul", ["rows", "four"], ["starts"], name="/head/Mul"),
        node("Unsqueeze", ["starts", "axis1"], ["starts1"], name="/head/Unsqueeze"),
        node("Add", ["starts1", "columns"], ["index"], name="/head/Add"),
        node("Gather", ["flat", "index"], name="/head/as_strided", axis=0),
    ]
    case = Case("as_strided", nodes, {"x": ["batch", 4]},
                constants={"minus_one": I(-1), "zero": np.int64(0), "one": np.int64(1), "four": np.int64(4), "axis1": I(1),
                           "columns": I(0, 1, 2, 3)})
    text = spec_of(case.model())
    assert [layer["type"] for layer in yaml.safe_load(text)["layers"]] == ["Reshape", "Buffer", "Take"]
    report = archspec.analyze(text, batch=3)
    assert report.outputs == {"head_as_strided": (3, 4)} and report.totals["flops"] == 0


def test_linear_bias_and_gelu_chains_are_fused():
    nodes = [
        node("MatMul", ["x", "W"], ["m"], name="/mlp/fc1/MatMul"), node("Add", ["B", "m"], ["h"], name="/mlp/fc1/Add"),
        node("Div", ["h", "sqrt2"], ["d"], name="/mlp/act/Div"), node("Erf", ["d"], ["e"], name="/mlp/act/Erf"),
        node("Add", ["e", "one"], ["e1"], name="/mlp/act/Add"), node("Mul", ["h", "e1"], ["p"], name="/mlp/act/Mul"),
        node("Mul", ["p", "half"], ["g"], name="/mlp/act/Mul_1"),
        node("Sigmoid", ["g"], ["s"], name="/mlp/silu/Sigmoid"), node("Mul", ["g", "s"], name="/mlp/silu/Mul"),
    ]
    case = Case("fused", nodes, {"x": [2, 5, 8]}, {"W": W(8, 16), "B": W(16)},
                constants={"sqrt2": np.float32(2 ** 0.5), "one": np.float32(1), "half": np.float32(0.5)})
    text = spec_of(case.model())
    layers = yaml.safe_load(text)["layers"]
    assert [(layer["name"], layer["type"]) for layer in layers] == [
        ("mlp_fc1", "Linear"), ("mlp_act", "GELU"), ("mlp_silu", "SiLU")]
    assert "bias" not in layers[0]
    report = archspec.analyze(text)
    numel = 2 * 5 * 16
    assert report.totals["flops"] == 2 * 2 * 5 * 8 * 16 + numel + 5 * numel + 4 * numel


def test_layer_norm_and_tanh_gelu_written_out_are_fused():
    """torch's opset-14 export of LayerNorm(16) -> Linear(16, 16) -> gelu(approximate="tanh")."""
    ln, act = "/ln/", "/act/"
    nodes = [
        node("ReduceMean", ["x"], ["m"], name=ln + "ReduceMean", axes=[-1]), node("Sub", ["x", "m"], ["d"], name=ln + "Sub"),
        node("Pow", ["d", "two"], ["p"], name=ln + "Pow"), node("ReduceMean", ["p"], ["v"], name=ln + "ReduceMean_1", axes=[-1]),
        node("Add", ["v", "eps"], ["e"], name=ln + "Add"), node("Sqrt", ["e"], ["s"], name=ln + "Sqrt"),
        node("Div", ["d", "s"], ["n"], name=ln + "Div"), node("Mul", ["n", "ln.weight"], ["w"], name=ln + "Mul"),
        node("Add", ["w", "ln.bias"], ["h"], name=ln + "Add_1"),
        node("MatMul", ["h", "W"], ["f0"], name="/fc/MatMul"), node("Add", ["fc.bias", "f0"], ["f"], name="/fc/Add"),
        node("Mul", ["f", "f"], ["sq"], name=act + "Mul"), node("Mul", ["f", "sq"], ["cube"], name=act + "Mul_1"),
        node("Mul", ["c1", "cube"], ["t1"], name=act + "Mul_2"), node("Add", ["f", "t1"], ["t2"], name=act + "Add"),
        node("Mul", ["c2", "t2"], ["t3"], name=act + "Mul_3"), node("Tanh", ["t3"], ["t4"], name=act + "Tanh"),
        node("Add", ["one", "t4"], ["t5"], name=act + "Add_1"), node("Mul", ["f", "t5"], ["t6"], name=act + "Mul_4"),
        node("Mul", ["half", "t6"], name=act + "Mul_5"),
    ]
    case = Case("ln14", nodes, {"x": ["batch", "seq", 16]}, {"ln.weight": W(16), "ln.bias": W(16), "W": W(16, 16), "fc.bias": W(16)},
                constants={"two": np.float32(2), "eps": np.float32(1e-5), "c1": np.float32(0.044715),
                           "c2": np.float32((2 / np.pi) ** 0.5), "one": np.float32(1), "half": np.float32(0.5)}, opset=14)
    text = spec_of(case.model())
    layers = yaml.safe_load(text)["layers"]
    assert layers == [{"name": "ln", "type": "LayerNorm"}, {"name": "fc", "type": "Linear", "out_features": 16},
                      {"name": "act", "type": "GELU", "approximate": "tanh"}]
    assert "Add" not in text.split("layers:")[0]  # no note on Sub or Div: they were fused away
    report = archspec.analyze(text, batch=2, seq=3)
    assert (report.totals["params"], report.totals["macs"]) == (16 + 16 + 16 * 16 + 16, 2 * 3 * 16 * 16)


def test_names_follow_the_module_path_and_from_only_where_needed():
    nodes = [
        node("Conv", ["x", "W1"], ["a"], name="/layer1/layer1.0/conv1/Conv", pads=[1, 1, 1, 1]),
        node("Relu", ["a"], ["r"], name="/layer1/layer1.0/relu/Relu"),
        node("Conv", ["r", "W2"], ["b"], name="/layer1/layer1.0/conv2/Conv", pads=[1, 1, 1, 1]),
        node("Add", ["b", "x"], name="/layer1/layer1.0/Add"),
    ]
    case = Case("names", nodes, {"x": [1, 3, 8, 8]}, {"W1": W(3, 3, 3, 3), "W2": W(3, 3, 3, 3)})
    layers = yaml.safe_load(spec_of(case.model()))["layers"]
    assert [(layer["name"], layer.get("from")) for layer in layers] == [
        ("layer1_0_conv1", None), ("layer1_0_relu", None), ("layer1_0_conv2", None), ("layer1_0_add", ["layer1_0_conv2", "x"])]


def _unknown_model(value_info: bool = True):
    nodes = [node("Relu", ["x"], ["r"], name="/head/Relu"), node("Celu", ["r"], ["c"], name="/head/mystery"),
             node("Conv", ["c", "W"], name="/head/conv/Conv")]
    case = Case("unknown", nodes, {"x": [1, 3, 8, 8]}, {"W": W(4, 3, 1, 1)})
    model = case.model()
    if not value_info:
        del model.graph.value_info[:]
    return model


def test_an_unknown_operator_is_an_error_naming_the_node():
    with pytest.raises(SpecError) as error:
        spec_of(_unknown_model())
    message = str(error.value)
    assert "node 1 (/head/mystery, Celu)" in message and "operator Celu has no mapping" in message
    assert "unknown-ops zero" in message


def test_unknown_operators_can_count_as_zero_cost():
    with pytest.warns(UnknownOpsWarning, match=r"Celu \(1\)"):
        text = spec_of(_unknown_model(), unknown_ops="zero")
    assert "# Operators without a mapping counted as zero-cost layers (unknown_ops=zero): Celu (1)." in text
    report = archspec.analyze(text)
    assert report.totals["macs"] == 4 * 3 * 64
    row = next(r for r in report.layers if r.name == "head_mystery")
    assert (row.type, row.macs, row.flops) == ("Identity", 0, 0)


def test_a_zero_cost_stand_in_needs_the_stated_shape():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SpecError, match="does not state the shape of its output"):
            spec_of(_unknown_model(value_info=False), unknown_ops="zero")


def test_a_stand_in_reaches_another_element_count():
    model = Case("grow", [node("Relu", ["x"], ["r"], name="/a/Relu"), node("Foo", ["r"], ["y"], name="/a/foo", domain="custom")],
                 {"x": [2, 3]}, domains={"custom": 1}).model()
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 5]))
    with pytest.warns(UnknownOpsWarning, match=r"custom\.Foo"):
        text = spec_of(model, unknown_ops="zero")
    report = archspec.analyze(text)
    assert list(report.outputs.values()) == [(4, 5)] and report.totals["flops"] == 6


def test_unknown_ops_option_is_checked():
    with pytest.raises(SpecError, match="unknown_ops must be error or zero"):
        spec_of(_conv_on([1, 3, 8, 8]), unknown_ops="ignore")


def test_a_missing_onnx_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(SpecError, match=r"pip install 'archspec-nn\[onnx\]'"):
        import_onnx(b"\x08\x08", "m.onnx")


def test_importing_archspec_does_not_import_onnx():
    code = ("import sys, archspec, archspec.importers; archspec.analyze('specs/lenet5.yaml'); "
            "print('onnx' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_weights_are_never_read(tmp_path):
    """An initializer stored outside the file (external data, absent here) is imported from its dims."""
    model = _conv_on([1, 3, 8, 8])
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="missing.bin")
    assert archspec.analyze(spec_of(model)).totals["params"] == 4 * 27


def test_the_wire_reader_strips_initializers_only():
    model = Case("w", [node("Reshape", ["x", "shape"], ["r"]), node("Add", ["r", "B"])], {"x": [2, 6]},
                 {"shape": I(3, 4), "B": W(3, 4), "s": np.float32(2)}).model()
    stripped, initializers = strip(model.SerializeToString(), lambda raw: numpy_helper.to_array(TensorProto.FromString(raw)))
    rest = onnx.ModelProto.FromString(stripped)
    assert len(rest.graph.initializer) == 0 and len(rest.graph.node) == 2 and rest.opset_import == model.opset_import
    found = {t.name: (t.dims, t.data_type, None if t.value is None else t.value.tolist()) for t in initializers}
    assert found == {"shape": ((2,), TensorProto.INT64, [3, 4]), "B": ((3, 4), TensorProto.FLOAT, None),
                     "s": ((), TensorProto.FLOAT, 2.0)}


def test_an_onnx_head_that_reads_as_text_is_still_onnx():
    """A model's first 4 KB can be valid UTF-8 (names, and a graph length 0xe5 0xa7 0x80 that reads
    as a character): it is told by its protobuf fields, not by looking binary."""
    head = b"\x08\x08\x12\x07pytorch\x1a\x062.14.1:\xe5\xa7\x80\x37\n=\n\x17features.3.0.mlp.0.bias"
    assert source_kind(head) == "onnx"
    assert source_kind(_conv_on([1, 3, 8, 8]).SerializeToString()) == "onnx"
    assert source_kind(b"\x08name: net\nlayers: []\n") is None


def test_not_an_onnx_model_is_a_clear_error():
    with pytest.raises(SpecError, match="is not a readable ONNX model"):
        import_onnx(b"\x08\x07\x12\xff\xff", "bad.onnx")


def test_files_are_read_by_every_entry_point(tmp_path):
    path = tmp_path / "tiny.onnx"
    path.write_bytes(_conv_on(["N", 3, 8, 8]).SerializeToString())
    assert source_kind(path.read_bytes()) == "onnx"
    text = import_spec(path, name="tiny_net")
    assert yaml.safe_load(text)["name"] == "tiny_net"
    assert archspec.import_spec(path) == import_spec(path)
    assert archspec.analyze(path, N=2).totals["macs"] == 2 * 4 * 64 * 27
    assert import_spec(path) == import_spec(path)  # deterministic


def test_cli_import(tmp_path):
    from archspec.cli import main

    path = tmp_path / "tiny.onnx"
    path.write_bytes(_conv_on([1, 3, 8, 8]).SerializeToString())
    out = tmp_path / "tiny.yaml"
    assert main(["import", str(path), "-o", str(out), "--name", "tiny"]) == 0
    assert yaml.safe_load(out.read_text())["name"] == "tiny"
    assert archspec.analyze(out).totals["macs"] == 4 * 64 * 27


def test_cli_import_unknown_ops(tmp_path, capsys):
    from archspec.cli import main

    path = tmp_path / "unknown.onnx"
    path.write_bytes(_unknown_model().SerializeToString())
    assert main(["import", str(path)]) == 1
    assert "operator Celu has no mapping" in capsys.readouterr().err
    assert main(["import", str(path), "--unknown-ops", "zero"]) == 0
    captured = capsys.readouterr()
    assert "Celu (1)" in captured.err and captured.out.startswith("# Imported from")


# -- torchvision models (tests/reference/export_onnx_models.py) --------------------------------
def _measured():
    return json.loads(MEASURED.read_text())["models"] if MEASURED.exists() else {}


@pytest.mark.parametrize("model", sorted(_measured()))
def test_torchvision_figures_agree_with_the_zoo(model):
    """The recorded import of each exported torchvision model: its params are torchvision's and
    its MACs the hand-written zoo spec's, as archspec counts that spec now."""
    record = _measured()[model]
    zoo = archspec.analyze(ROOT / "specs" / f"{record['zoo_spec']}.yaml")
    assert record["imported"]["macs"] == record["zoo"]["macs"] == zoo.totals["macs"]
    if model == "inception_v3":  # the auxiliary classifier runs in training only: not in the inference graph
        aux = sum(row.params for row in zoo.layers if row.name.startswith("AuxLogits"))
        assert record["imported"]["params"] == record["torchvision"]["params"] - aux == zoo.totals["params"] - aux
    else:
        assert record["imported"]["params"] == record["torchvision"]["params"] == zoo.totals["params"]
    for export in ("torchscript", "torchscript_default", "dynamo"):  # every exporter: the same MACs
        if export not in record:
            continue
        assert record[export]["imported"]["macs"] == zoo.totals["macs"], export
        assert "macs" not in record[export]["differences"]
        assert all(d["why"] != "unexplained" for d in record[export]["differences"].values()), export

