"""The walk over the graph: every node is folded (all inputs constant; or, when its values stay
symbolic, known by its output shapes alone), a view of a stored tensor, converted by its table
entry, or stood in for (unknown_ops="zero")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from archspec.importers.onnx.emit import Builder, Node
from archspec.importers.onnx.fold import FOLD, FoldError, fold, shape_only, target_shape
from archspec.importers.onnx.table import WEIGHT_VIEWS, converter
from archspec.importers.onnx.values import (
    BOOL,
    INT64,
    Stored,
    Tensor,
    concrete,
    expression,
    flatten_axis,
    ints,
    numel,
    onnx_type,
    plain,
)

DEFAULT_DOMAINS = ("", "ai.onnx")
_COMPARISONS = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor"}


def convert(b: Builder, nodes: list[Node], unknown_ops: str) -> Counter:
    """Run every node in order; returns how many nodes of each operator were stood in for."""
    stood_in: Counter = Counter()
    for node in nodes:
        b.node = node
        try:
            _step(b, node, unknown_ops, stood_in)
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # a node the converters did not foresee: name it rather than fail somewhere inside
            raise b.error(f"cannot be converted ({type(exc).__name__}: {exc})") from exc
    b.node = None
    return stood_in


def _step(b: Builder, node: Node, unknown_ops: str, stood_in: Counter) -> None:
    if node.domain not in DEFAULT_DOMAINS:
        stand_in(b, node, unknown_ops, stood_in)
        return
    present = [name for name in node.inputs if name]
    for name in present:
        b.tensor(name)
    convert_node = converter(node.op)
    if node.op in FOLD and present and _foldable(b, node, present):
        try:
            _fold(b, node)
            return
        except FoldError as exc:
            if _opaque(b, node):
                return
            if convert_node is None:
                raise b.error(f"cannot be evaluated at import time ({exc}), and has no layer to stand for it") from None
    elif node.op in FOLD and present and _over_opaque(b, present) and _opaque(b, node):
        return
    if node.op in WEIGHT_VIEWS and _weight_view(b, node):
        return
    if convert_node is not None:
        convert_node(b, node)
        return
    stand_in(b, node, unknown_ops, stood_in)


def _foldable(b: Builder, node: Node, present: list[str]) -> bool:
    """Every input a constant; or, with a constant computed from others among them, small stored
    tensors too (dynamo stores a mask's fill as an initializer). A stored tensor alone, or as the
    data of a view, stays a weight (Transpose(W) feeds a Linear)."""
    if all(b.value(name) is not None for name in present):
        return True
    if not any(b.value(name) is not None and b.tensor(name).stored is None for name in present):
        return False
    if node.op in WEIGHT_VIEWS and b.value(present[0]) is None:
        return False
    return all(b.value(name) is not None or b.tensor(name).raw is not None for name in present)


def _over_opaque(b: Builder, present: list[str]) -> bool:
    """Every input a constant, some of them with symbolic values (opaque)."""
    tensors = [b.tensor(name) for name in present]
    return any(t.opaque for t in tensors) and all(t.opaque or t.value is not None for t in tensors)


def _opaque(b: Builder, node: Node) -> bool:
    """Define the outputs of a node over constants it cannot evaluate (a range over the batch)
    by their shapes alone; False when no shape rule applies."""
    tensors = [b.tensor(name) if name else None for name in node.inputs]
    if any(t is not None and t.shape is None for t in tensors):
        return False
    try:
        shapes = shape_only(node, [t.shape if t else None for t in tensors], [t.value if t else None for t in tensors])
    except (FoldError, TypeError, ValueError, IndexError):
        return False
    dtype = next((t.dtype for t in tensors if t is not None), INT64)
    for name, shape in zip(node.outputs, shapes):
        b.define(name, Tensor(shape, BOOL if node.op in _COMPARISONS else dtype, opaque=True))
    return True


def _fold(b: Builder, node: Node) -> None:
    types = [b.tensor(name).dtype if name else 0 for name in node.inputs]
    args = [b.known(name) if name else None for name in node.inputs]
    # a view of an initializer (relative_position_index.view(-1)) is still that stored tensor
    stored = _view_of(node, b.tensor(node.inputs[0]).stored) if node.op in WEIGHT_VIEWS else None
    for name, value in zip(node.outputs, fold(node, args, types)):
        if node.op in ("Cast", "CastLike"):
            dtype = node.attr("to") if node.op == "Cast" else types[1]
        elif node.op in _COMPARISONS:
            dtype = BOOL
        else:
            dtype = onnx_type(value.dtype, types[0] or INT64)
        b.define(name, Tensor(tuple(int(d) for d in value.shape), dtype, value=value, stored=stored))


def _weight_view(b: Builder, node: Node) -> bool:
    """A transpose, reshape or cast of a stored tensor is the same weight with another shape (no layer)."""
    source = b.tensor(node.inputs[0])
    if source.stored is None or source.value is not None or source.ref is not None:
        return False
    if any(b.value(name) is None for name in node.inputs[1:] if name):
        return False
    shape = _view_shape(b, node, source.shape)
    dtype = node.attr("to", source.dtype) if node.op == "Cast" else source.dtype
    b.define(node.outputs[0], Tensor(tuple(shape), dtype, stored=_view_of(node, source.stored)))
    return True


def _view_of(node: Node, stored: Stored | None) -> Stored | None:
    """The stored tensor a view shows; an Identity is the exporter sharing equal initializers
    (layer4.2.bn3.weight = Identity(layer4.0.bn3.weight)): the copy keeps its own name."""
    if stored is None or node.op != "Identity":
        return stored
    return Stored(node.outputs[0], stored.param)


def _view_shape(b: Builder, node: Node, shape: tuple) -> list:
    if node.op in ("Identity", "Cast"):
        return list(shape)
    if node.op == "Transpose":
        perm = node.attr("perm") or list(reversed(range(len(shape))))
        return [shape[p] for p in perm]
    if node.op == "Reshape":
        return target_shape(shape, [int(v) for v in ints(b.value(node.inputs[1]))], node.attr("allowzero", 0))
    if node.op == "Flatten":
        axis = flatten_axis(node.attr("axis", 1), len(shape))
        return [numel(shape[:axis]), numel(shape[axis:])]
    axes = node.attr("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        axes = [int(v) for v in ints(b.value(node.inputs[1]))]
    if node.op == "Squeeze":
        gone = {a % len(shape) for a in axes} if axes else {i for i, d in enumerate(shape) if d == 1}
        return [d for i, d in enumerate(shape) if i not in gone]
    out = list(shape)
    for axis in sorted(a % (len(shape) + len(axes)) for a in axes):
        out.insert(axis, 1)
    return out


def stand_in(b: Builder, node: Node, unknown_ops: str, stood_in: Counter) -> None:
    """An operator without a mapping: an error, or (unknown_ops="zero") zero-cost views from its
    first input to each output's declared shape."""
    label = node.op if node.domain in DEFAULT_DOMAINS else f"{node.domain}.{node.op}"
    if unknown_ops != "zero":
        raise b.error(f"operator {label} has no mapping to a spec layer; import with unknown_ops='zero' "
                      "(archspec import --unknown-ops zero) to count it as a zero-cost layer")
    sources = [n for n in node.inputs if n and b.tensor(n).value is None]
    if not sources:
        raise b.error(f"operator {label} has no mapping, and no input a zero-cost layer could stand in from")
    for out in node.outputs:
        if not out:
            continue
        shape = b.declared_shape(out)
        if shape is None:
            raise b.error(f"operator {label} has no mapping, and the model does not state the shape of its output "
                          f"{out!r} (value_info), so no zero-cost layer can stand in for it")
        _zero_cost(b, sources[0], shape, out)
    stood_in[label] += 1


def _zero_cost(b: Builder, source: str, shape: tuple, out: str) -> None:
    """Views (no cost) that turn `source` into a tensor of `shape`."""
    have = b.shape(source)
    role = f"out{b.node.outputs.index(out)}" if len(b.node.outputs) > 1 else ""
    if list(have) == list(shape):
        b.emit({"type": "Identity"}, [source], [(out, shape)], role=role)
        return
    wanted, held = plain(numel(shape)), plain(numel(have))
    if wanted == held:
        b.emit({"type": "Reshape", "shape": [expression(d) for d in shape]}, [source], [(out, shape)], role=role)
        return
    if not (concrete(wanted) and concrete(held)):
        raise b.error(f"the stand-in would turn {list(map(expression, have))} into {list(map(expression, shape))}; "
                      "the element counts are symbolic and differ")
    ref: Any = b.chain({"type": "Flatten", "start_dim": 0}, source, role=f"{role}flat")
    if wanted < held:
        ref = b.chain({"type": "Slice", "dim": 0, "end": wanted}, ref, role=f"{role}take")
    else:
        ref = b.chain({"type": "Slice", "dim": 0, "end": 1}, ref, role=f"{role}first")
        ref = b.chain({"type": "Expand", "sizes": [wanted]}, ref, role=f"{role}spread")
    b.emit({"type": "Reshape", "shape": [expression(d) for d in shape]}, [ref], [(out, shape)], role=role)

