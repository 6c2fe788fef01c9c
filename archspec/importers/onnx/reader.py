"""Reading an ONNX file: the graph's nodes with their attributes as Python values, its inputs,
outputs and stated shapes, and the initializers' metadata (archspec.importers.onnx.wire)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import Problem, SpecError
from archspec.importers.onnx.emit import Node
from archspec.importers.onnx.wire import MAX_READ, Initializer, WireError, strip


@dataclass
class ValueInfo:
    """A graph input or output: its element type and dims (int, dim_param string, or None)."""

    name: str
    dtype: int
    dims: tuple | None


@dataclass
class Model:
    """What the importer reads from the file."""

    opset: int
    ir_version: int
    producer: str
    graph_name: str
    nodes: list[Node]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: list[Initializer]
    value_info: dict[str, tuple] = field(default_factory=dict)
    decode: Any = None  # TensorProto bytes -> numpy array


def require_onnx(file: str | None) -> Any:
    """The onnx package, or an error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise SpecError(Problem("reading an ONNX model needs the onnx package: pip install 'archspec-nn[onnx]'", file)) from None
    return onnx


def read(data: bytes, file: str | None) -> Model:
    """The model in `data` (the bytes of an .onnx file), its weights left unread."""
    onnx = require_onnx(file)
    from google.protobuf.message import DecodeError

    decode = _reader(onnx)
    try:
        stripped, initializers = strip(data, decode)
        proto = onnx.ModelProto()
        proto.ParseFromString(stripped)
    except (WireError, DecodeError) as exc:
        raise SpecError(Problem(f"is not a readable ONNX model ({exc})", file)) from None
    graph = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
    stored = {t.name for t in initializers}
    producer = f"{proto.producer_name} {proto.producer_version}".strip()
    return Model(
        opset=opset,
        ir_version=proto.ir_version,
        producer=producer,
        graph_name=graph.name,
        nodes=[_node(onnx, i, n) for i, n in enumerate(graph.node)],
        inputs=[_value_info(v) for v in graph.input if v.name not in stored],
        outputs=[_value_info(v) for v in graph.output],
        initializers=initializers,
        value_info={info.name: info.dims for info in map(_value_info, graph.value_info) if info.dims is not None},
        decode=decode,
    )


def _reader(onnx: Any):
    def read_value(raw: bytes):
        return onnx.numpy_helper.to_array(onnx.TensorProto.FromString(raw))

    return read_value


def _value_info(value: Any) -> ValueInfo:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return ValueInfo(value.name, tensor.elem_type, None)
    dims = []
    for dim in tensor.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return ValueInfo(value.name, tensor.elem_type, tuple(dims))


def _node(onnx: Any, index: int, proto: Any) -> Node:
    attrs = {a.name: _attribute(onnx, a) for a in proto.attribute}
    node = Node(index, proto.name, proto.op_type, proto.domain, list(proto.input), list(proto.output), attrs)
    node.label = _module_path(proto) or proto.name
    return node


def _module_path(proto: Any) -> str | None:
    """torch's dynamo exporter names nodes node_Conv_12 and keeps the module path in metadata
    (['', 'layer1', '0', 'conv1', 'conv2d']): as the TorchScript exporter's /layer1/0/conv1/conv2d."""
    for prop in getattr(proto, "metadata_props", ()):
        if prop.key != "pkg.torch.onnx.name_scopes":
            continue
        try:
            scopes = ast.literal_eval(prop.value)
        except (ValueError, SyntaxError):
            return None
        parts = [str(s) for s in scopes if s and not str(s).startswith("_empty_nn_module_stack")]
        return "/" + "/".join(parts) if len(parts) > 1 else (parts[0] if parts else None)
    return None


def _attribute(onnx: Any, attribute: Any) -> Any:
    """An attribute as a Python value: a tensor as a numpy array, or ("large", dims, type) for a
    tensor too large to read (weights an exporter stored as a Constant)."""
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, onnx.TensorProto):
        count = 1
        for d in value.dims:
            count *= d
        if count > MAX_READ:
            return ("large", tuple(value.dims), value.data_type)
        return onnx.numpy_helper.to_array(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
