"""The spec being built: ONNX tensors by name, the layer entries emitted so far, and their names.

Converters (archspec.importers.onnx.ops) read tensors through the `Builder` and `emit`
entries; an entry's inputs are `Ref`s to earlier entries or to the spec's inputs. A
stored tensor or a constant that a layer consumes as a tensor becomes a Parameter or
Buffer entry the first time it is used. Names are given at the end (`name_entries`), when
it is known which ONNX scopes hold a single layer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archspec.errors import Problem, SpecError
from archspec.importers.onnx.values import DTYPES, FLOAT, Shape, Tensor, expression, is_float, shape_of


@dataclass
class Node:
    """One ONNX node: its position, name, operator, tensor names ("" for an absent optional
    input) and attributes as Python values."""

    index: int
    name: str
    op: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # what the layer is named after: the node's name, or its module path when the exporter kept one

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> str:
        """The name of input i, or "" when it is absent."""
        return self.inputs[i] if i < len(self.inputs) else ""

    @property
    def where(self) -> str:
        return f"node {self.index} ({self.name or 'unnamed'}, {self.op})"


@dataclass(eq=False)
class Entry:
    """One layer of the spec: its type and arguments, its inputs and where it came from."""

    layer: dict[str, Any]
    inputs: list["Ref"]
    scope: str | None = None  # the ONNX node's module path (dotted), for its name
    part: str = ""  # the rest of the node's name (its operator, e.g. MatMul_1) or a stored tensor's name
    outputs: int = 1
    name: str = ""
    node: Node | None = None
    shape: tuple | None = None  # its (first) output's shape, for the fusions
    note: str = ""  # a header line, when the entry writes an operator the spec has no layer for


@dataclass(frozen=True, eq=False)
class Ref:
    """An output of an entry (index for a multi-output layer) or a spec input (a str)."""

    source: Entry | str
    index: int | None = None

    def text(self) -> str:
        base = self.source if isinstance(self.source, str) else self.source.name
        return base if self.index is None else f"{base}.{self.index}"


class Builder:
    """The state of one import: tensors, entries, params, notes for the header."""

    def __init__(self, file: str | None):
        self.file = file
        self.tensors: dict[str, Tensor] = {}
        self.entries: list[Entry] = []
        self.inputs: dict[str, dict[str, Any]] = {}  # spec input name -> {shape, dtype}
        self.params: list[tuple[str, Any, str]] = []
        self.notes: dict[str, None] = {}  # header lines, in order, once each
        self.declared: dict[str, tuple] = {}  # shapes the file states (value_info, outputs): int, dim_param or None
        self.symbols: dict[str, Any] = {}  # dim_param -> the sympy symbol of its spec param
        self.node: Node | None = None  # the node being converted, for errors
        self.decode: Any = None  # TensorProto bytes -> numpy array (the reader's)
        self.opset = 17  # the model's default-domain opset (operators changed meaning across opsets)

    # -- errors and notes ------------------------------------------------------------------
    def error(self, message: str, node: Node | None = None) -> SpecError:
        """A located error: the file and the node (index, name, operator)."""
        node = node or self.node
        return SpecError(Problem(message, self.file or "<onnx>", where=node.where if node else None))

    def note(self, text: str) -> None:
        self.notes[text] = None

    # -- tensors ---------------------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        if name not in self.tensors:
            raise self.error(f"reads the tensor {name!r}, which no earlier node, input or initializer gives")
        return self.tensors[name]

    def shape(self, name: str) -> Shape:
        shape = self.tensor(name).shape
        if shape is None:
            raise self.error(f"needs the shape of {name!r}, which is unknown")
        return shape

    def rank(self, name: str) -> int:
        return len(self.shape(name))

    def value(self, name: str) -> np.ndarray | None:
        """A constant's value (None for an absent optional input or a tensor computed from data)."""
        return self.tensors[name].value if name and name in self.tensors else None

    def known(self, name: str) -> np.ndarray | None:
        """A constant's value, or a small stored tensor's, read from the file now."""
        tensor = self.tensors.get(name) if name else None
        if tensor is None or tensor.value is not None or tensor.raw is None or self.decode is None:
            return tensor.value if tensor is not None else None
        return self.decode(tensor.raw)

    def const(self, name: str, what: str) -> np.ndarray:
        """The value of an input that must be constant (a target shape, pads, axes, ...)."""
        value = self.value(name)
        if value is None:
            raise self.error(f"its {what} ({name!r}) is computed from the data at run time; the importer needs it constant")
        return value

    def define(self, name: str, tensor: Tensor) -> None:
        if not name:
            return
        self._check_declared(name, tensor.shape)
        self.tensors[name] = tensor

    def alias(self, out: str, source: str) -> None:
        """`out` is the same tensor as `source` (Identity, a cast, an inference-time Dropout)."""
        if out:
            self.tensors[out] = self.tensor(source)

    def declared_shape(self, name: str) -> Shape | None:
        """The shape the model states for a tensor, in the spec's symbols; None when unknown."""
        declared = self.declared.get(name)
        if declared is None or any(d is None or (isinstance(d, str) and d not in self.symbols) for d in declared):
            return None
        return tuple(self.symbols[d] if isinstance(d, str) else d for d in declared)

    def _check_declared(self, name: str, shape: Shape | None) -> None:
        declared = self.declared.get(name)
        if declared is None or shape is None:
            return
        mismatch = len(declared) != len(shape) or any(
            isinstance(d, int) and isinstance(s, int) and d != s for d, s in zip(declared, shape)
        )
        if mismatch:
            shown = [expression(s) for s in shape]
            stated = ["?" if d is None else d for d in declared]
            raise self.error(f"the importer computes the shape {shown} for {name!r}, but the model states {stated}")

    # -- entries ---------------------------------------------------------------------------
    def ref(self, name: str) -> Ref:
        """The spec value of a tensor a layer consumes. A constant becomes a Buffer entry on first
        use; a stored weight a Parameter entry at each use, as a Conv or a Linear holds its own
        weight: exporters share equal initializers (every zero bias of an untrained model), and
        counting a shared one once would count those layers' biases once in all."""
        tensor = self.tensor(name)
        if tensor.ref is not None:
            return tensor.ref
        ref = Ref(self._materialize(name, tensor))
        if not (tensor.stored is not None and tensor.stored.param and tensor.value is None):
            tensor.ref = ref
        return ref

    def _materialize(self, name: str, tensor: Tensor) -> Entry:
        shape = [expression(d) for d in (tensor.shape if tensor.value is None else shape_of(tensor.value))]
        if tensor.stored is not None and tensor.stored.param:
            layer = {"type": "Parameter", "shape": shape}
        else:
            layer = {"type": "Buffer", "shape": shape}
            dtype = DTYPES.get(tensor.dtype)
            if dtype and not is_float(tensor.dtype):
                layer["dtype"] = dtype
            if tensor.stored is None:
                self.note("Buffer layers not named after an initializer hold constants the model computes "
                          "from its shapes (an attention mask, an index): folded at import time.")
        if tensor.stored is not None:
            entry = Entry(layer, [], scope=None, part=tensor.stored.name)
        else:  # named after the module that computes it
            entry = Entry(layer, [], scope=split_name(name)[0], part="constant")
        self.entries.append(entry)
        return entry

    def emit(self, layer: dict[str, Any], inputs: list[str | Ref], outputs: list[tuple[str, Shape]] | None = None,
             role: str = "", dtype: int | None = None) -> Entry:
        """Append a layer entry reading `inputs` (tensor names or refs) and producing `outputs`
        ((tensor name, shape) each; several for a multi-output layer). `role` tells apart the
        layers one node becomes."""
        node = self.node
        refs = [item if isinstance(item, Ref) else self.ref(item) for item in inputs]
        label = (node.label or node.name) if node else ""
        scope, part = split_name(label) if label else (None, node.op if node else "layer")
        if scope is not None or label.startswith("/"):
            part = part.lower()  # the exporter's operator label: /layer1/layer1.0/Add -> layer1_0_add
        entry = Entry(layer, refs, scope, part + (f"_{role}" if role else ""), outputs=len(outputs or [None]), node=node,
                      shape=outputs[0][1] if outputs else None)
        self.entries.append(entry)
        if dtype is None:
            first = inputs[0] if inputs and not isinstance(inputs[0], Ref) else None
            dtype = self.tensors[first].dtype if first else FLOAT
        for i, (name, shape) in enumerate(outputs or []):
            self.define(name, Tensor(shape, dtype, ref=Ref(entry, i if len(outputs) > 1 else None)))
        return entry

    def chain(self, layer: dict[str, Any], source: str | Ref, role: str) -> Ref:
        """An intermediate layer of a node that becomes several: its output ref."""
        return Ref(self.emit(layer, [source], None, role=role))


def split_name(name: str) -> tuple[str | None, str]:
    """('layer1.0.conv1', 'Conv') from the exporter's '/layer1/layer1.0/conv1/Conv': the module
    path (each scope a child of the previous; torch writes a child as 'parent.index') and the rest."""
    parts = [p for p in name.split("/") if p]
    if len(parts) < 2:
        return None, parts[0] if parts else name
    path: list[str] = []
    for part in parts[:-1]:
        if path and part.startswith(path[-1] + "."):
            path[-1] = part
        else:
            path.append(part)
    return ".".join(path), parts[-1]


_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]+")


def identifier(text: str, fallback: str = "layer") -> str:
    """A name the spec accepts: letters, digits and _, not starting with a digit."""
    text = _NOT_IDENTIFIER.sub("_", text).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text:
        return fallback
    return f"n{text}" if text[0].isdigit() else text


def name_entries(entries: list[Entry], taken: set[str]) -> None:
    """Name each entry after its ONNX node: the module path alone when that module (a leaf:
    no other scope under it) holds one layer, else the path and the operator part."""
    scopes = Counter(e.scope for e in entries if e.scope)
    containers = {scope.rsplit(".", k)[0] for scope in scopes for k in range(1, scope.count(".") + 1)}
    used = set(taken)
    for entry in entries:
        if entry.scope and scopes[entry.scope] == 1 and entry.scope not in containers:
            base = identifier(entry.scope)
        elif entry.scope:
            base = identifier(f"{entry.scope}_{entry.part}")
        else:
            base = identifier(entry.part, entry.layer["type"].lower())
        name, counter = base, 1
        while name in used:
            counter += 1
            name = f"{base}_{counter}"
        used.add(name)
        entry.name = name


def render_layers(entries: list[Entry], first_input: str | None) -> list[dict[str, Any]]:
    """The entries as spec layers: name, type, arguments, and `from` unless the layer reads
    just the previous entry's output."""
    layers, previous = [], first_input
    for entry in entries:
        layer = {"name": entry.name, **entry.layer}
        sources = [ref.text() for ref in entry.inputs]
        if sources and sources != [previous]:
            layer["from"] = sources[0] if len(sources) == 1 else sources
        layers.append(layer)
        previous = entry.name if entry.outputs == 1 else None
    return layers
