"""ONNX model -> spec (the `onnx` extra: pip install 'archspec-nn[onnx]').

The graph is walked node by node (archspec.importers.onnx.convert): shape subgraphs fold to
constants, each computing operator becomes the spec's layer (the table in
archspec.importers.onnx.table), initializers become the layers' params, chains exporters
write out are fused back (fuse), and the layers are named after the ONNX nodes. Weights are
never read, only each initializer's dims (wire); import_spec maps the file rather than
reading it, so the weights of a 200 MB model are never loaded at all.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from archspec.errors import Problem, SpecError
from archspec.importers.draft import Draft
from archspec.importers.onnx.convert import convert
from archspec.importers.onnx.emit import Builder, Entry, Ref, identifier, name_entries, render_layers
from archspec.importers.onnx.fuse import fuse
from archspec.importers.onnx.reader import Model, ValueInfo, read
from archspec.importers.onnx.values import DTYPES, Stored, Tensor, expression, is_float
from archspec.symbolic import symbol

UNKNOWN_OPS = ("error", "zero")
# names the spec's expressions or YAML read as something else
_TAKEN = {"ceil", "floor", "min", "max", "abs", "round", "log2", "make_divisible",
          "true", "false", "null", "yes", "no", "on", "off"}


class UnknownOpsWarning(UserWarning):
    """Operators without a mapping were counted as zero-cost layers (unknown_ops="zero")."""


def import_onnx(data: bytes, file: str | None, name: str | None = None, unknown_ops: str = "error") -> Draft:
    """The draft spec of an ONNX model given as the bytes of its file (or a buffer: a mapped
    file). `unknown_ops`: "error"
    (an operator without a mapping is a located error) or "zero" (a zero-cost stand-in, with
    a warning and a header line listing them)."""
    if unknown_ops not in UNKNOWN_OPS:
        raise SpecError(f"unknown_ops must be error or zero, not {unknown_ops!r}")
    model = read(data, file)
    b = Builder(file)
    b.declared = {**model.value_info, **{v.name: v.dims for v in model.outputs if v.dims is not None}}
    _inputs(b, model)
    b.decode = model.decode
    for tensor in model.initializers:
        stored = Stored(tensor.name, is_float(tensor.data_type))
        b.tensors[tensor.name] = Tensor(tensor.dims, tensor.data_type, value=tensor.value, stored=stored, raw=tensor.raw)
    b.opset = model.opset
    stood_in = convert(b, model.nodes, unknown_ops)
    outputs = _outputs(b, model)
    entries = fuse(b.entries, outputs)
    for entry in entries:  # the notes of what survived the fusions
        if entry.note:
            b.note(entry.note)
    if not entries:
        raise SpecError(Problem("has no layer to import (every output is an input or a constant)", file))
    name_entries(entries, set(b.inputs))
    first = next(iter(b.inputs)) if len(b.inputs) == 1 else None
    texts = [ref.text() for ref in outputs]
    draft = Draft(
        name=name or _model_name(file, model),
        description=f"Imported from ONNX: {len(entries)} layers from {len(model.nodes)} nodes (opset {model.opset}).",
        header=_header(file, model, b, stood_in),
        params=b.params,
        inputs=b.inputs,
        layers=render_layers(entries, first),
        outputs=None if texts == [entries[-1].name] else texts,
    )
    if stood_in:
        warnings.warn(f"{file or 'the ONNX model'}: {_stood_in_text(stood_in)}", UnknownOpsWarning, stacklevel=2)
    return draft


def _param_name(text: str, taken: set[str]) -> str:
    name = identifier(text, "dim")
    while name.lower() in _TAKEN or name in taken:
        name += "_"
    return name


def _inputs(b: Builder, model: Model) -> None:
    """The spec's inputs; a symbolic dim (dim_param, or no size at all) becomes a param with value 1."""
    for value in model.inputs:
        if value.dims is None:
            raise SpecError(Problem(f"input {value.name!r} has no stated shape; the importer needs the graph's input shapes",
                                    b.file))
        shape = [_dim(b, value, i, d) for i, d in enumerate(value.dims)]
        name = identifier(value.name, "input")
        while name in b.inputs or name in _TAKEN:
            name += "_"
        spec_input = {"shape": [expression(d) for d in shape]}
        if value.dtype != 1:
            spec_input["dtype"] = DTYPES.get(value.dtype, "float32")
        b.inputs[name] = spec_input
        b.tensors[value.name] = Tensor(tuple(shape), value.dtype, ref=Ref(name))


def _dim(b: Builder, value: ValueInfo, index: int, dim):
    if isinstance(dim, int):
        return dim
    key = dim if isinstance(dim, str) else f"{value.name}_dim{index}"
    if key not in b.symbols:
        param = _param_name(key, {p for p, _, _ in b.params})
        what = f"dim_param {dim!r}" if isinstance(dim, str) else "no size"
        b.params.append((param, 1, f"symbolic: dim {index} of input {value.name} ({what}); set it with --set {param}=N"))
        b.symbols[key] = symbol(param)
    return b.symbols[key]


def _outputs(b: Builder, model: Model) -> list[Ref]:
    """The refs of the graph's outputs; an output that is an input passes through an Identity."""
    refs = []
    for value in model.outputs:
        ref = b.ref(value.name)
        if isinstance(ref.source, str):
            entry = Entry({"type": "Identity"}, [ref], part=value.name)
            b.entries.append(entry)
            ref = Ref(entry)
        refs.append(ref)
    return refs


def _model_name(file: str | None, model: Model) -> str:
    if file:
        return Path(file).stem
    if model.graph_name and model.graph_name not in ("main_graph", "torch_jit", "torch-jit-export"):
        return model.graph_name
    return "onnx_model"


def _stood_in_text(stood_in) -> str:
    listed = ", ".join(f"{op} ({count})" for op, count in sorted(stood_in.items()))
    return f"operators without a mapping counted as zero-cost layers (unknown_ops=zero): {listed}"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _header(file: str | None, model: Model, b: Builder, stood_in) -> list[str]:
    source = file or "an ONNX model"
    made = f", made by {model.producer}" if model.producer else ""
    lines = [
        f"Imported from {source} by archspec import (ONNX opset {model.opset}, IR version {model.ir_version}{made}).",
        "Layers are named after the ONNX nodes; shape subgraphs were folded to constants at import time.",
        *b.notes,
    ]
    if stood_in:
        lines.append(_sentence(_stood_in_text(stood_in)))
    return [re.sub(r"\s+", " ", line) for line in lines]
