"""Converters of the operators that move, select or describe data: Shape, Constant, Reshape,
Transpose, Squeeze/Unsqueeze, Concat, Split, Slice, Gather, Expand, Pad, Resize, reductions.
Most are views (no cost); Shape and Constant only give values to the constant folder."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import sympy

from archspec.importers.onnx.emit import Builder, Node, Ref
from archspec.importers.onnx.fold import split_sizes, target_shape
from archspec.importers.onnx.ops import torch_pads
from archspec.importers.onnx.values import (
    INT64,
    broadcast,
    same_dim,
    Stored,
    Tensor,
    as_array,
    concrete,
    expression,
    flatten_axis,
    float_text,
    ints,
    is_float,
    numel,
    onnx_type,
    plain,
)

BIG = 1 << 62  # an end past this is "to the end" (exporters write INT64_MAX)


def _dims(values: list) -> list:
    return [expression(v) for v in values]


# -- values ---------------------------------------------------------------------------------
def shape_op(b: Builder, node: Node) -> None:
    shape = b.shape(node.inputs[0])
    start, end = node.attr("start", 0), node.attr("end")
    b.define(node.outputs[0], Tensor((len(shape[start:end]),), INT64, value=as_array(list(shape[start:end]))))


def size_op(b: Builder, node: Node) -> None:
    b.define(node.outputs[0], Tensor((), INT64, value=as_array(numel(b.shape(node.inputs[0])))))


def constant(b: Builder, node: Node) -> None:
    """A Constant node: its value, or for a large tensor (weights stored as a constant) its shape only."""
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        value = node.attr(key)
        if value is None:
            continue
        if isinstance(value, tuple) and value[0] == "large":  # (large, dims, element type)
            _, dims, dtype = value
            b.define(node.outputs[0], Tensor(tuple(dims), dtype, stored=Stored(node.outputs[0], param=is_float(dtype))))
            return
        array = np.asarray(value, dtype=np.float32 if "float" in key else (np.int64 if "int" in key else None))
        b.define(node.outputs[0], Tensor(tuple(array.shape), onnx_type(array.dtype), value=array))
        return
    raise b.error("holds a sparse tensor or strings; the importer reads numeric constants")


def identity(b: Builder, node: Node) -> None:
    b.alias(node.outputs[0], node.inputs[0])


def cast(b: Builder, node: Node) -> None:
    """A cast of a layer's output costs nothing here; the tensor keeps its ref, with the new type."""
    source = b.tensor(node.inputs[0])
    b.define(node.outputs[0], replace(source, dtype=node.attr("to", source.dtype)))


# -- views ----------------------------------------------------------------------------------
def _view(b: Builder, node: Node, layer: dict[str, Any], out: tuple) -> None:
    """A zero-cost layer, left out when the shape does not change (a no-op reshape)."""
    x = node.inputs[0]
    shape = b.shape(x)
    if len(shape) == len(out) and all(same_dim(p, q) for p, q in zip(shape, out)) and layer["type"] != "Permute":
        b.alias(node.outputs[0], x)
        return
    b.emit(layer, [x], [(node.outputs[0], tuple(out))])


def reshape(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    target = ints(b.const(node.input(1), "target shape"))
    allowzero = node.attr("allowzero", 0)
    written = [shape[i] if (t == 0 and not allowzero) else t for i, t in enumerate(target)]
    out = target_shape(shape, target, allowzero)
    _view(b, node, {"type": "Reshape", "shape": _dims(written)}, tuple(out))


def flatten(b: Builder, node: Node) -> None:
    shape = b.shape(node.inputs[0])
    axis = flatten_axis(node.attr("axis", 1), len(shape))
    out = (numel(shape[:axis]), numel(shape[axis:]))
    if axis == 1 and len(shape) >= 2:
        _view(b, node, {"type": "Flatten"}, out)
    else:
        _view(b, node, {"type": "Reshape", "shape": [expression(out[0]), -1]}, out)


def transpose(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    perm = list(node.attr("perm") or reversed(range(len(shape))))
    if perm == sorted(perm):
        b.alias(node.outputs[0], x)
        return
    moved = [i for i, p in enumerate(perm) if p != i]
    out = tuple(shape[p] for p in perm)
    if len(moved) == 2:
        b.emit({"type": "Transpose", "dim0": moved[0], "dim1": moved[1]}, [x], [(node.outputs[0], out)])
    else:
        b.emit({"type": "Permute", "dims": perm}, [x], [(node.outputs[0], out)])


def _axes(b: Builder, node: Node) -> list[int] | None:
    if node.attr("axes") is not None:
        return list(node.attr("axes"))
    if node.input(1):
        return [int(v) for v in ints(b.const(node.input(1), "axes"))]
    return None


def squeeze(b: Builder, node: Node) -> None:
    shape = b.shape(node.inputs[0])
    axes = _axes(b, node)
    gone = {a % len(shape) for a in axes} if axes is not None else {i for i, d in enumerate(shape) if d == 1}
    out = tuple(d for i, d in enumerate(shape) if i not in gone)
    _view(b, node, {"type": "Reshape", "shape": _dims(out)}, out)


def unsqueeze(b: Builder, node: Node) -> None:
    shape = list(b.shape(node.inputs[0]))
    axes = _axes(b, node)
    rank = len(shape) + len(axes)
    for axis in sorted(a % rank for a in axes):
        shape.insert(axis, 1)
    _view(b, node, {"type": "Reshape", "shape": _dims(shape)}, tuple(shape))


def expand(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    sizes = ints(b.const(node.input(1), "shape"))
    out = broadcast(shape, tuple(sizes))
    offset = len(out) - len(shape)
    written = [expression(d) if i < offset or not same_dim(d, shape[i - offset]) else -1 for i, d in enumerate(out)]
    _view(b, node, {"type": "Expand", "sizes": written}, out)


def tile(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    repeats = ints(b.const(node.input(1), "repeats"))
    out = tuple(plain(d * r) for d, r in zip(b.shape(x), repeats))
    _view(b, node, {"type": "Repeat", "repeats": _dims(repeats)}, out)


# -- joining and selecting -------------------------------------------------------------------
def concat(b: Builder, node: Node) -> None:
    inputs = [x for x in node.inputs if x and numel(b.shape(x)) != 0]
    shapes = [b.shape(x) for x in inputs]
    axis = node.attr("axis") % len(shapes[0])
    if len(inputs) == 1:
        b.alias(node.outputs[0], inputs[0])
        return
    out = list(shapes[0])
    out[axis] = plain(sum((s[axis] for s in shapes[1:]), shapes[0][axis]))
    layer = {"type": "Concat"} if axis == 1 else {"type": "Concat", "dim": axis}
    b.emit(layer, inputs, [(node.outputs[0], tuple(out))])


def split(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    axis = node.attr("axis", 0) % len(shape)
    sizes = split_sizes(node, shape[axis], b.const(node.input(1), "split sizes") if node.input(1) else None)
    outputs = []
    for name, size in zip(node.outputs, sizes):
        piece = list(shape)
        piece[axis] = size
        outputs.append((name, tuple(piece)))
    b.emit({"type": "Split", "dim": axis, "split_size_or_sections": _dims(sizes)}, [x], outputs)


def slice_op(b: Builder, node: Node) -> None:
    """One Slice layer per sliced dim (a dim kept whole is left out)."""
    x = node.inputs[0]
    shape = list(b.shape(x))
    if node.attr("starts") is not None:
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        starts, ends = ints(b.const(node.input(1), "starts")), ints(b.const(node.input(2), "ends"))
        axes = ints(b.const(node.input(3), "axes")) if node.input(3) else None
        steps = ints(b.const(node.input(4), "steps")) if node.input(4) else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    cuts = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % len(shape)
        cut = _cut(b, shape[axis], start, end, step)
        if cut is not None:
            cuts.append((axis, *cut))
    source: Any = x
    for i, (axis, start, end, step, size) in enumerate(cuts):
        layer = _slice_layer(axis, start, end, step)
        shape[axis] = size
        last = i == len(cuts) - 1
        entry = b.emit(layer, [source], [(node.outputs[0], tuple(shape))] if last else None, role="" if last else f"dim{axis}")
        source = Ref(entry)
    if not cuts:
        b.alias(node.outputs[0], x)


def _slice_layer(axis: int, start: int, end: Any, step: int) -> dict[str, Any]:
    """A Slice with the defaults (start 0, to the end, step 1) left out."""
    layer: dict[str, Any] = {"type": "Slice", "dim": axis}
    if start:
        layer["start"] = start
    if end is not None:
        layer["end"] = end
    if step != 1:
        layer["step"] = step
    return layer


def _cut(b: Builder, size: Any, start: Any, end: Any, step: Any) -> tuple | None:
    """(start, end or None, step, new size) of a slice along a dim of `size`; None when it keeps the dim whole."""
    start, end, step = plain(start), plain(end), plain(step)
    if not (isinstance(step, int) and step > 0):
        raise b.error(f"slices with step {step}; the spec's Slice steps forward")
    if concrete(size) and concrete(start) and concrete(end):
        begin, stop, _ = slice(int(start), int(end), step).indices(int(size))
        length = len(range(begin, stop, step))
        if begin == 0 and stop >= size and step == 1:
            return None
        return begin, (None if stop >= size else stop), step, length
    if not isinstance(start, int) or start < 0:
        raise b.error(f"slices a dim of symbolic size {expression(size)} from {start}; the importer needs a start >= 0")
    if isinstance(end, int) and end >= BIG:
        if start == 0 and step == 1:
            return None
        return start, None, step, plain(sympy.ceiling((size - start) / sympy.Integer(step)))
    stop = plain(size + end) if isinstance(end, int) and end < 0 else end
    if start == 0 and step == 1 and same_dim(stop, size):
        return None
    return start, expression(stop), step, plain(sympy.ceiling((stop - start) / sympy.Integer(step)))


def gather(b: Builder, node: Node) -> None:
    """Gather: a table stored in the model looked up by ids is an Embedding; an activation indexed
    by a constant is an Index (one index), a Slice (a run) or an IndexSelect."""
    data, indices = node.inputs[0], node.inputs[1]
    axis = node.attr("axis", 0) % b.rank(data)
    table, shape = b.tensor(data), b.shape(data)
    index_shape = b.shape(indices)
    out = (*shape[:axis], *index_shape, *shape[axis + 1:])
    if table.stored is not None and table.value is None:
        if len(shape) == 2 and axis == 0:
            layer = {"type": "Embedding", "num_embeddings": shape[0], "embedding_dim": expression(shape[1])}
            b.emit(layer, [indices], [(node.outputs[0], out)], dtype=table.dtype)
            return
        if axis == 0:
            b.emit({"type": "Take"}, [data, indices], [(node.outputs[0], out)], dtype=table.dtype)
            return
    chosen = b.value(indices)
    if chosen is not None and chosen.ndim == 0:
        b.emit({"type": "Index", "dim": axis, "index": int(plain(chosen.item()))}, [data], [(node.outputs[0], out)])
    elif chosen is not None and chosen.ndim == 1 and _run(chosen, shape[axis]) is not None:
        b.emit(_slice_layer(axis, *_run(chosen, shape[axis])), [data], [(node.outputs[0], out)])
    elif len(index_shape) == 1:
        b.emit({"type": "IndexSelect", "dim": axis}, [data, indices], [(node.outputs[0], out)])
    elif axis == 0:
        b.emit({"type": "Take"}, [data, indices], [(node.outputs[0], out)])
    else:
        raise b.error(f"gathers along dim {axis} with {len(index_shape)}-D indices; the importer maps dim 0 or 1-D indices")


def _run(indices: np.ndarray, size: Any) -> tuple | None:
    """(start, end, step) when constant indices are an increasing run with a fixed step."""
    values = [plain(v) for v in indices]
    if not values or not all(isinstance(v, int) for v in values) or not concrete(size):
        return None
    values = [v % int(size) for v in values]
    step = values[1] - values[0] if len(values) > 1 else 1
    if step < 1 or any(b - a != step for a, b in zip(values, values[1:])):
        return None
    end = values[-1] + 1
    return values[0], (None if end >= size else end), step


def gather_elements(b: Builder, node: Node) -> None:
    data, indices = node.inputs
    axis = node.attr("axis", 0) % b.rank(data)
    b.emit({"type": "Gather", "dim": axis}, [data, indices], [(node.outputs[0], b.shape(indices))], dtype=b.tensor(data).dtype)


def pad(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = list(b.shape(x))
    pads = node.attr("pads") or ints(b.const(node.input(1), "pads"))
    axes = [int(a) % len(shape) for a in ints(b.const(node.input(3), "axes"))] if node.input(3) else list(range(len(shape)))
    half = len(pads) // 2
    pairs = [(0, 0)] * len(shape)
    for i, axis in enumerate(axes):
        pairs[axis] = (plain(pads[i]), plain(pads[i + half]))
    if all(p == 0 for pair in pairs for p in pair):
        b.alias(node.outputs[0], x)
        return
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}[_text(node.attr("mode", "constant"))]
    layer: dict[str, Any] = {"type": "Pad", "pad": _dims(torch_pads(pairs))}
    if mode != "constant":
        layer["mode"] = mode
    fill = node.attr("value") if node.attr("value") is not None else _fill(b, node.input(2))
    if fill:
        layer["value"] = float_text(fill)
    out = tuple(plain(d + p0 + p1) for d, (p0, p1) in zip(shape, pairs))
    b.emit(layer, [x], [(node.outputs[0], out)])


def _fill(b: Builder, name: str) -> Any:
    value = b.value(name)
    return plain(value.reshape(-1)[0]) if value is not None and value.size else 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def resize(b: Builder, node: Node) -> None:
    """Resize (and the older Upsample) of the spatial dims: Upsample with size or scale_factor."""
    x = node.inputs[0]
    shape = b.shape(x)
    mode = _text(node.attr("mode", "nearest"))
    linear = {3: "linear", 4: "bilinear", 5: "trilinear"}.get(len(shape))
    if mode not in ("nearest", "linear") or (mode == "linear" and linear is None):
        raise b.error(f"resizes with mode {mode!r} on a {len(shape)}-D input; the spec's Upsample does nearest and "
                      "(bi/tri)linear")
    scales_name = node.input(1) if node.op == "Upsample" else node.input(2)
    sizes_name = "" if node.op == "Upsample" else node.input(3)
    layer: dict[str, Any] = {"type": "Upsample"}
    if sizes_name:
        sizes = ints(b.const(sizes_name, "sizes"))
        out = tuple(sizes[-len(shape):]) if len(sizes) == len(shape) else (*shape[:len(shape) - len(sizes)], *sizes)
        layer["size"] = _dims(list(out[2:])) if len(set(map(str, out[2:]))) > 1 else expression(out[2])
    else:
        scales = [plain(v) for v in b.const(scales_name, "scales").reshape(-1)] if scales_name else list(node.attr("scales"))
        if any(not math.isclose(s, 1.0) for s in scales[:2]):
            raise b.error(f"scales the batch or channel dims ({scales[:2]}); the spec's Upsample scales the spatial dims")
        spatial = [float_text(s) for s in scales[2:]]
        layer["scale_factor"] = spatial[0] if len(set(spatial)) == 1 else spatial
        out = (*shape[:2], *[_scaled(d, s) for d, s in zip(shape[2:], spatial)])
    if mode == "linear":
        layer["mode"] = linear
        if _text(node.attr("coordinate_transformation_mode", "half_pixel")) == "align_corners":
            layer["align_corners"] = True
    b.emit(layer, [x], [(node.outputs[0], tuple(out))])


def _scaled(size: Any, scale: float) -> Any:
    if concrete(size):
        return int(math.floor(size * scale))
    return plain(sympy.floor(size * sympy.nsimplify(scale)))


def reduce_mean(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    axes = _axes(b, node)
    axes = sorted(a % len(shape) for a in axes) if axes else list(range(len(shape)))
    keep = bool(node.attr("keepdims", 1))
    out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(d for i, d in enumerate(shape) if i not in axes)
    layer = {"type": "Mean", "dim": axes[0] if len(axes) == 1 else axes}
    if keep:
        layer["keepdim"] = True
    b.emit(layer, [x], [(node.outputs[0], out)])


def reduce_sum(b: Builder, node: Node) -> None:
    """A sum over some dims is a one-operand Einsum (its adds: numel(in) - numel(out)), reshaped
    when the dims are kept."""
    x = node.inputs[0]
    shape = b.shape(x)
    axes = _axes(b, node)
    axes = sorted(a % len(shape) for a in axes) if axes else list(range(len(shape)))
    letters = "abcdefghijklmnopqrstuvwxyz"[: len(shape)]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    summed = tuple(d for i, d in enumerate(shape) if i not in axes)
    keep = bool(node.attr("keepdims", 1))
    if not keep:
        b.emit({"type": "Einsum", "equation": f"{letters}->{kept}"}, [x], [(node.outputs[0], summed)])
        return
    out = tuple(1 if i in axes else d for i, d in enumerate(shape))
    ref = b.chain({"type": "Einsum", "equation": f"{letters}->{kept}"}, x, role="sum")
    b.emit({"type": "Reshape", "shape": _dims(list(out))}, [ref], [(node.outputs[0], out)])
