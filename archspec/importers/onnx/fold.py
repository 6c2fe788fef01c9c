"""Constant folding: the nodes whose inputs are all known values run here, at import time.

Exporters compute reshape targets, pads and masks from `Shape` at run time (Shape ->
Gather -> Unsqueeze -> Concat -> Reshape); with the input's dims known (a symbolic dim is
a sympy symbol) those subgraphs fold to constants, so every layer gets static arguments.
Each kernel takes the node, its input values (None for an absent optional input) and
their ONNX element types, and returns its output values. Values are small (a shape, an
index table, a window mask): a result over MAX_ELEMENTS is not folded.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import sympy

from archspec.dims import floordiv
from archspec.importers.onnx.emit import Node
from archspec.importers.onnx.values import NUMPY_TYPES, as_array, broadcast, concrete, flatten_axis, ints, is_float, plain, sym

MAX_ELEMENTS = 1 << 22


class FoldError(Exception):
    """The node cannot be evaluated at import time (a symbolic comparison, too large, ...)."""


Kernel = Callable[[Node, list, list], list]



def _symbolic(a: np.ndarray) -> bool:
    return a.dtype == object


def _elementwise(function: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A function of one element applied to every element, for arrays holding symbols."""
    vectorized = np.frompyfunc(function, 1, 1)
    return lambda a: as_array(vectorized(a)) if a.ndim else as_array(function(a.item()))


def _unary(numeric: Callable, symbolic: Callable | None = None) -> Kernel:
    def kernel(node: Node, args: list, types: list) -> list:
        a = args[0]
        if _symbolic(a):
            if symbolic is None:
                raise FoldError("a symbolic operand")
            return [_elementwise(symbolic)(a)]
        with np.errstate(all="ignore"):
            return [np.asarray(numeric(a))]

    return kernel


def _binary(numeric: Callable, symbolic: Callable | None = None) -> Kernel:
    def kernel(node: Node, args: list, types: list) -> list:
        a, b = args[0], args[1]
        if _symbolic(a) or _symbolic(b):
            function = symbolic or numeric
            return [as_array(np.frompyfunc(function, 2, 1)(a.astype(object), b.astype(object)))]
        with np.errstate(all="ignore"):
            return [np.asarray(numeric(a, b))]

    return kernel


def _truncating_div(a: Any, b: Any) -> Any:
    """ONNX's integer Div (C's truncation), exact for symbols (taken as positive)."""
    a, b = plain(a), plain(b)
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    return floordiv(sym(a), sym(b))


def _div(node: Node, args: list, types: list) -> list:
    a, b = args
    if is_float(types[0]):
        if _symbolic(a) or _symbolic(b):
            return [as_array(np.frompyfunc(lambda x, y: sym(x) / sym(y), 2, 1)(a.astype(object), b.astype(object)))]
        with np.errstate(all="ignore"):
            return [np.asarray(a / b).astype(a.dtype)]
    return [as_array(np.frompyfunc(_truncating_div, 2, 1)(a.astype(object), b.astype(object))).astype(a.dtype if not _symbolic(a) else object)]


def _mod(node: Node, args: list, types: list) -> list:
    a, b = args
    if node.attr("fmod", 0):
        return [np.fmod(a, b)]
    return _binary(np.mod, lambda x, y: x % y)(node, args, types)


def _compare(numeric: Callable, symbolic: Callable) -> Kernel:
    def decide(x: Any, y: Any) -> bool:
        result = symbolic(sym(x), sym(y))
        if result not in (sympy.true, sympy.false, True, False):
            raise FoldError(f"cannot decide {x} vs {y} for every value of the symbols")
        return bool(result)

    def kernel(node: Node, args: list, types: list) -> list:
        a, b = args
        if _symbolic(a) or _symbolic(b):
            return [np.frompyfunc(decide, 2, 1)(a.astype(object), b.astype(object)).astype(bool)]
        return [np.asarray(numeric(a, b))]

    return kernel


def _cast(node: Node, args: list, types: list) -> list:
    a, to = args[0], node.attr("to")
    if _symbolic(a):
        return [a]
    return [a.astype(NUMPY_TYPES.get(to, a.dtype))]


def _cast_like(node: Node, args: list, types: list) -> list:
    return [args[0] if _symbolic(args[0]) else args[0].astype(args[1].dtype)]


def _axes(node: Node, args: list, index: int = 1) -> list[int] | None:
    """Axes from the attribute (older opsets) or the input (newer)."""
    if node.attr("axes") is not None:
        return list(node.attr("axes"))
    if len(args) > index and args[index] is not None:
        return [int(v) for v in ints(args[index])]
    return None


def _unsqueeze(node: Node, args: list, types: list) -> list:
    a = args[0]
    axes = _axes(node, args)
    rank = a.ndim + len(axes)
    for axis in sorted(x % rank for x in axes):
        a = np.expand_dims(a, axis)
    return [a]


def _squeeze(node: Node, args: list, types: list) -> list:
    a, axes = args[0], _axes(node, args)
    return [np.squeeze(a, axis=None if axes is None else tuple(x % a.ndim for x in axes))]


def target_shape(shape: tuple, target: list, allowzero: int = 0) -> list:
    """ONNX Reshape's target resolved: 0 copies the input's dim (unless allowzero), -1 is inferred."""
    sizes = [shape[i] if (t == 0 and not allowzero) else t for i, t in enumerate(target)]
    if any(isinstance(t, int) and t == -1 for t in sizes):
        known = 1
        for t in sizes:
            known = known * (1 if isinstance(t, int) and t == -1 else t)
        total = 1
        for d in shape:
            total = total * d
        inferred = plain(sym(total) / sym(known)) if not (isinstance(total, int) and isinstance(known, int)) else total // known
        sizes = [inferred if isinstance(t, int) and t == -1 else t for t in sizes]
    return [plain(s) for s in sizes]


def _reshape(node: Node, args: list, types: list) -> list:
    a = args[0]
    sizes = target_shape(a.shape, [int(v) for v in ints(args[1])], node.attr("allowzero", 0))
    return [a.reshape([int(s) for s in sizes])]


def _flatten(node: Node, args: list, types: list) -> list:
    a = args[0]
    axis = flatten_axis(node.attr("axis", 1), a.ndim)
    return [a.reshape(int(np.prod(a.shape[:axis], dtype=np.int64)), -1)]


def _slice(node: Node, args: list, types: list) -> list:
    a = args[0]
    if node.attr("starts") is not None:  # opset < 10: attributes
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        starts, ends = ints(args[1]), ints(args[2])
        axes = ints(args[3]) if len(args) > 3 and args[3] is not None else None
        steps = ints(args[4]) if len(args) > 4 and args[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * a.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis) % a.ndim] = slice(int(start), int(end), int(step))
    return [a[tuple(index)]]


def _concat(node: Node, args: list, types: list) -> list:
    parts = [a for a in args if a is not None and a.size] or [args[0]]
    if any(_symbolic(a) for a in parts):
        return [as_array(np.concatenate([a.astype(object) for a in parts], axis=node.attr("axis")))]
    return [np.concatenate(parts, axis=node.attr("axis"))]


def _gather(node: Node, args: list, types: list) -> list:
    return [np.take(args[0], args[1].astype(np.int64), axis=node.attr("axis", 0))]


def _gather_elements(node: Node, args: list, types: list) -> list:
    return [np.take_along_axis(args[0], args[1].astype(np.int64), axis=node.attr("axis", 0))]


def _constant_of_shape(node: Node, args: list, types: list) -> list:
    fill = node.attr("value")
    shape = [int(plain(v)) for v in ints(args[0])] if args[0].size else []
    fill = np.zeros(1, np.float32) if fill is None else fill
    return [np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)]


def _range(node: Node, args: list, types: list) -> list:
    start, limit, delta = (plain(a.reshape(-1)[0]) for a in args)
    if not all(concrete(v) for v in (start, limit, delta)):
        raise FoldError("a range with symbolic bounds")
    return [np.arange(start, limit, delta, dtype=args[0].dtype)]


def _expand(node: Node, args: list, types: list) -> list:
    a, shape = args[0], [int(plain(v)) for v in ints(args[1])]
    out = np.broadcast_shapes(a.shape, tuple(shape))
    return [np.broadcast_to(a, out).copy()]


def _tile(node: Node, args: list, types: list) -> list:
    return [np.tile(args[0], [int(v) for v in ints(args[1])])]


def _where(node: Node, args: list, types: list) -> list:
    condition, x, y = args
    if _symbolic(x) or _symbolic(y):
        return [as_array(np.where(condition, x.astype(object), y.astype(object)))]
    return [np.where(condition, x, y)]


def _transpose(node: Node, args: list, types: list) -> list:
    return [np.transpose(args[0], node.attr("perm"))]


def _scatter_nd(node: Node, args: list, types: list) -> list:
    data, indices, updates = args
    out = data.copy()
    reduction = node.attr("reduction", "none")
    keys = indices.reshape(-1, indices.shape[-1])
    rows = updates.reshape(len(keys), *updates.shape[indices.ndim - 1:])
    for key, row in zip(keys, rows):
        place = tuple(int(k) for k in key)
        out[place] = {"add": out[place] + row, "mul": out[place] * row}.get(reduction, row) if reduction != "none" else row
    return [out]


def _scatter_elements(node: Node, args: list, types: list) -> list:
    data, indices, updates = args
    out, axis = data.copy(), node.attr("axis", 0) % data.ndim
    for position in np.ndindex(*indices.shape):
        target = list(position)
        target[axis] = int(indices[position])
        out[tuple(target)] = updates[position]
    return [out]


def _split(node: Node, args: list, types: list) -> list:
    a, axis = args[0], node.attr("axis", 0)
    sizes = split_sizes(node, a.shape[axis], args[1] if len(args) > 1 else None)
    bounds = np.cumsum(sizes)[:-1]
    return list(np.split(a, bounds, axis=axis))


def split_sizes(node: Node, length: Any, given: np.ndarray | None) -> list:
    """The piece sizes of a Split: the split input or attribute, num_outputs, or equal pieces."""
    if given is not None and given.size:
        return [plain(v) for v in ints(given)]
    if node.attr("split") is not None:
        return list(node.attr("split"))
    count = node.attr("num_outputs") or len(node.outputs)
    piece = -(-length // count)  # ceil: the last piece is smaller (opset 18)
    return [piece] * (count - 1) + [length - piece * (count - 1)]


def _reduce(numeric: Callable) -> Kernel:
    def kernel(node: Node, args: list, types: list) -> list:
        axes = _axes(node, args)
        if not axes and node.attr("noop_with_empty_axes", 0):
            return [args[0]]
        axis = None if not axes else tuple(x % args[0].ndim for x in axes)
        return [np.asarray(numeric(args[0], axis=axis, keepdims=bool(node.attr("keepdims", 1))))]

    return kernel


def _variadic(numeric: Callable, symbolic: Callable) -> Kernel:
    def kernel(node: Node, args: list, types: list) -> list:
        values = [a for a in args if a is not None]
        result = values[0]
        for other in values[1:]:
            result = _binary(numeric, symbolic)(node, [result, other], types)[0]
        return [result]

    return kernel


def _trilu(node: Node, args: list, types: list) -> list:
    k = int(plain(args[1].reshape(-1)[0])) if len(args) > 1 and args[1] is not None else 0
    return [np.triu(args[0], k) if node.attr("upper", 1) else np.tril(args[0], k)]


def _identity(node: Node, args: list, types: list) -> list:
    return [args[0]] + [np.zeros(args[0].shape, bool)] * (len(node.outputs) - 1)


def _pad(node: Node, args: list, types: list) -> list:
    a = args[0]
    pads = node.attr("pads") or [int(v) for v in ints(args[1])]
    half = len(pads) // 2
    fill = args[2].reshape(-1)[0] if len(args) > 2 and args[2] is not None and args[2].size else 0
    width = [(pads[i], pads[i + half]) for i in range(half)]
    if min(pads) < 0:
        raise FoldError("negative pads")
    return [np.pad(a, width, mode="constant", constant_values=fill)]


def _erf(a: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[a.dtype])(a)


FOLD: dict[str, Kernel] = {
    "Identity": _identity,
    "Dropout": _identity,
    "Cast": _cast,
    "CastLike": _cast_like,
    "Add": _binary(np.add, lambda x, y: x + y),
    "Sub": _binary(np.subtract, lambda x, y: x - y),
    "Mul": _binary(np.multiply, lambda x, y: x * y),
    "Div": _div,
    "Mod": _mod,
    "Pow": _binary(lambda a, b: np.power(a.astype(np.float64), b).astype(a.dtype), lambda x, y: x ** y),
    "Neg": _unary(np.negative, lambda x: -x),
    "Abs": _unary(np.abs, abs),
    "Sign": _unary(np.sign, sympy.sign),
    "Sqrt": _unary(np.sqrt, sympy.sqrt),
    "Reciprocal": _unary(np.reciprocal, lambda x: 1 / sym(x)),
    "Floor": _unary(np.floor, sympy.floor),
    "Ceil": _unary(np.ceil, sympy.ceiling),
    "Exp": _unary(np.exp),
    "Log": _unary(np.log),
    "Sin": _unary(np.sin),
    "Cos": _unary(np.cos),
    "Tanh": _unary(np.tanh),
    "Erf": _unary(_erf),
    "Relu": _unary(lambda a: np.maximum(a, 0)),
    "Sigmoid": _unary(lambda a: 1 / (1 + np.exp(-a))),
    "Not": _unary(np.logical_not),
    "Equal": _compare(np.equal, sympy.Eq),
    "Less": _compare(np.less, lambda x, y: x < y),
    "LessOrEqual": _compare(np.less_equal, lambda x, y: x <= y),
    "Greater": _compare(np.greater, lambda x, y: x > y),
    "GreaterOrEqual": _compare(np.greater_equal, lambda x, y: x >= y),
    "And": _binary(np.logical_and),
    "Or": _binary(np.logical_or),
    "Xor": _binary(np.logical_xor),
    "Min": _variadic(np.minimum, sympy.Min),
    "Max": _variadic(np.maximum, sympy.Max),
    "Sum": _variadic(np.add, lambda x, y: x + y),
    "Where": _where,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Slice": _slice,
    "Concat": _concat,
    "Gather": _gather,
    "GatherElements": _gather_elements,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": _expand,
    "Tile": _tile,
    "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements,
    "Split": _split,
    "Trilu": _trilu,
    "Pad": _pad,
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMin": _reduce(np.min),
    "ReduceMax": _reduce(np.max),
    "ReduceMean": _reduce(np.mean),
    "MatMul": lambda node, args, types: [np.matmul(args[0], args[1])],
    "CumSum": lambda node, args, types: [np.cumsum(args[0], axis=int(plain(args[1].reshape(-1)[0])))],
    "NonZero": lambda node, args, types: [np.array(np.nonzero(args[0]), dtype=np.int64)],
}


_SAME_SHAPE = {"Identity", "Cast", "CastLike", "Neg", "Abs", "Not", "Sign", "Floor", "Ceil", "Sqrt", "Reciprocal"}
_BROADCAST = {"Add", "Sub", "Mul", "Div", "Mod", "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
              "And", "Or", "Xor", "Where", "Min", "Max", "Sum"}


def shape_only(node: Node, shapes: list, args: list) -> list[tuple]:
    """The output shapes of a node over constants whose values stay symbolic (Range(0, batch)
    and the index arithmetic on it): FoldError for the operators it does not know."""
    op = node.op
    if op == "Range" and all(a is not None and a.size == 1 for a in args):
        start, limit, delta = (sym(a.reshape(-1)[0]) for a in args)
        return [(plain(sympy.ceiling((limit - start) / delta)),)]
    if op in _SAME_SHAPE:
        return [shapes[0]]
    if op in _BROADCAST:
        return [broadcast(*(s for s in shapes if s is not None))]
    if op in ("Unsqueeze", "Squeeze") and (node.attr("axes") is not None or (len(args) > 1 and args[1] is not None)):
        axes = _axes(node, args)
        shape = list(shapes[0])
        if op == "Squeeze":
            return [tuple(d for i, d in enumerate(shape) if i not in {a % len(shape) for a in axes})]
        for axis in sorted(a % (len(shape) + len(axes)) for a in axes):
            shape.insert(axis, 1)
        return [tuple(shape)]
    if op == "Reshape" and args[1] is not None:
        return [tuple(target_shape(shapes[0], ints(args[1]), node.attr("allowzero", 0)))]
    raise FoldError(f"no shape rule for {op} over symbolic constants")


def fold(node: Node, args: list, types: list) -> list[np.ndarray]:
    """The node's output values; FoldError when it cannot run here."""
    try:
        outputs = FOLD[node.op](node, args, types)
    except FoldError:
        raise
    except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError, AttributeError) as exc:
        raise FoldError(str(exc)) from None
    results = []
    for value in outputs:
        value = np.asarray(value)
        if value.size > MAX_ELEMENTS:
            raise FoldError(f"a constant of {value.size} elements")
        results.append(as_array(value) if value.dtype == object else value)
    return results
