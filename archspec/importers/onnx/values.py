"""What the importer knows about each ONNX tensor, and the dims and values it computes with.

A dim is an int or a sympy expression of the spec's params (a symbolic input dim); a
constant's value is a numpy array, of dtype object when an element is symbolic (a shape
read from a tensor with a symbolic batch). `expression` writes a sympy value the way the
spec's expression language reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy.printing.str import StrPrinter

from archspec.dims import as_plain

Dim = Any  # int or sympy.Expr
Shape = tuple  # of Dim

FLOAT, INT64, BOOL = 1, 7, 9  # TensorProto element types the importer names
DTYPES = {1: "float32", 10: "float16", 16: "bfloat16", 11: "float64", 7: "int64", 6: "int32", 3: "int8", 2: "uint8", 9: "bool"}
_FLOATS = {1, 10, 11, 16}


NUMPY_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
               9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64, 16: np.float32}
_ONNX_TYPES = {np.dtype(t): k for k, t in reversed(NUMPY_TYPES.items())}


def onnx_type(dtype: Any, default: int = INT64) -> int:
    """The ONNX element type of a numpy dtype (object arrays of dims: `default`)."""
    return _ONNX_TYPES.get(np.dtype(dtype), default)


def is_float(dtype: int) -> bool:
    return dtype in _FLOATS


@dataclass
class Stored:
    """A tensor stored in the model whose values are not read: an initializer, a view of one,
    or a large constant. `param`: a learned weight (float); else a buffer."""

    name: str
    param: bool


@dataclass
class Tensor:
    """One ONNX value: its shape and element type, and how the spec gets it: a constant value,
    a stored tensor, or the output `ref` of a spec entry (an input or a layer)."""

    shape: Shape | None
    dtype: int
    value: np.ndarray | None = None
    stored: Stored | None = None
    ref: Any = None  # archspec.importers.onnx.emit.Ref once the spec computes or holds it
    raw: Any = None  # a stored tensor's bytes, decoded only when a fold needs its values
    opaque: bool = False  # a constant computed from shapes whose values stay symbolic: only its shape is known


def numel(shape: Shape) -> Dim:
    count: Dim = 1
    for d in shape:
        count = count * d
    return as_plain(count) if not isinstance(count, int) else count


def plain(value: Any) -> Any:
    """A numpy or sympy scalar as an int, a float, or a sympy expression."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, sympy.Basic):
        if value.is_Integer:
            return int(value)
        if value.is_Number:
            return float(value)
        return value
    return value


def sym(value: Any) -> Any:
    """A number or dim as a sympy value (never by parsing text: no sympify)."""
    value = plain(value)
    if isinstance(value, bool):
        return sympy.Integer(int(value))
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, float):
        return sympy.Float(value)
    if isinstance(value, sympy.Basic):
        return value
    raise TypeError(f"expected a number or a sympy expression, found {value!r}")


def concrete(value: Any) -> bool:
    return isinstance(plain(value), (int, float, bool))


def float_text(value: float) -> float:
    """A float32 constant as the shortest decimal that reads back to it (0.70710677, not 0.7071067690849304)."""
    return float(str(np.float32(value))) if np.isfinite(value) and np.float32(value) == value else float(value)


class _Printer(StrPrinter):
    """sympy's text, with % for Mod and ceil for ceiling (the spec's expression language)."""

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"({self._print(a)} % {self._print(b)})"

    def _print_ceiling(self, expr):
        return f"ceil({self._print(expr.args[0])})"

    def _print_floor(self, expr):
        return f"floor({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"


def expression(value: Dim) -> Any:
    """A dim as a spec field value: an int, or the text of an expression of params."""
    value = plain(value)
    if isinstance(value, (int, float)):
        return value
    return _Printer().doprint(value).replace(" ", "")


def shape_of(value: np.ndarray) -> Shape:
    return tuple(int(d) for d in value.shape)


def as_array(items: Any, dtype: Any = None) -> np.ndarray:
    """An array of ints and symbols: int64 when every element is a number, else object."""
    array = np.array(items, dtype=object) if dtype is None else np.array(items, dtype=dtype)
    if array.dtype == object and all(concrete(v) for v in array.flat):
        flat = [plain(v) for v in array.flat]
        kind = np.int64 if all(isinstance(v, int) for v in flat) else np.float64
        return np.array(flat, dtype=kind).reshape(array.shape)
    return array


def ints(value: np.ndarray) -> list[Dim]:
    """A 0-D or 1-D constant as a list of ints (or symbolic dims)."""
    return [plain(v) for v in np.asarray(value).reshape(-1)]


def same_dim(a: Any, b: Any) -> bool:
    """Whether two dims are equal for every value of the symbols."""
    if concrete(a) and concrete(b):
        return plain(a) == plain(b)
    return sympy.expand(sym(a) - sym(b)) == 0


def broadcast(*shapes: Shape) -> Shape:
    """numpy's broadcast of shapes whose dims may be symbols."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        sizes = [d for d in dims if not (isinstance(d, int) and d == 1)]
        out.append(sizes[0] if sizes else 1)
    return tuple(out)


def flatten_axis(axis: int, rank: int) -> int:
    """ONNX Flatten's axis in [0, rank]: a negative one counts from the end (-1: rank - 1)."""
    return axis + rank if axis < 0 else axis
