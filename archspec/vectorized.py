"""Exact vectorized evaluation of integer formulas: numpy speed, never a wrapped int64.

    evaluate = exact_function(["B", "H"], [macs, params])
    evaluate(numpy.array([1, 8]), numpy.array([224, 224]))   # -> [macs values, params values]

numpy's int64 arithmetic wraps around silently past 2**63. Before trusting it, each
formula is bounded: `magnitude_bound` rewrites it into an expression whose value, at
the absolute values of the params, is at least the magnitude of every intermediate
result int64 evaluation computes (coefficients made positive, sums of absolute values,
a floor division bounded by its numerator, min/max by the sum of their arguments).
The bound is evaluated in float64 (with a wide safety margin for its rounding); points
whose bound stays below 2**62 are computed in int64, the others exactly with Python
integers (numpy object arrays). The result is an int64 array when every point fits,
otherwise an object array of exact ints.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy
import sympy

from archspec.symbolic import FloorDiv, symbol, to_sympy

SAFE = 2.0**62  # int64 holds 2**63 - 1; the margin absorbs float64 rounding of the bound


def magnitude_bound(expr: sympy.Expr) -> sympy.Expr:
    """An expression >= |every intermediate| of evaluating `expr`, at |param| values."""
    if expr.is_Number:
        return abs(expr)
    if expr.is_Symbol:
        return expr
    if expr.is_Add or isinstance(expr, (sympy.Min, sympy.Max)):
        return sympy.Add(*(magnitude_bound(arg) for arg in expr.args))
    if expr.is_Mul:
        return sympy.Mul(*(magnitude_bound(arg) for arg in expr.args))
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.is_Integer and exponent > 0:
            return magnitude_bound(base) ** exponent
    if isinstance(expr, FloorDiv):
        return magnitude_bound(expr.args[0])  # |a // b| <= |a| when |b| >= 1 (every divisor is)
    raise ValueError(f"cannot bound {expr} for exact vectorized evaluation")


_MODULES = [{"FloorDiv": numpy.floor_divide, "Min": numpy.minimum, "Max": numpy.maximum}, "numpy"]


def exact_function(names: Sequence[str], expressions: Sequence[Any]) -> Callable[..., list[numpy.ndarray]]:
    """f(*integer arrays) -> one exact array per expression (see the module docstring)."""
    symbols = [symbol(name) for name in names]
    expressions = [integer_form(to_sympy(e)) for e in expressions]
    left = set().union(set(), *(e.free_symbols for e in expressions)) - set(symbols)
    if left:
        raise ValueError(f"bind every param but {list(names)} first; still free: {sorted(map(str, left))}")
    compute = sympy.lambdify(symbols, expressions, modules=_MODULES)
    bound = sympy.lambdify(symbols, [magnitude_bound(e) for e in expressions], modules=_MODULES)

    def evaluate(*arrays: Any) -> list[numpy.ndarray]:
        ints = [as_int_array(a, name) for a, name in zip(arrays, names)]
        shape = numpy.broadcast_shapes(*(a.shape for a in ints)) if ints else ()
        with numpy.errstate(over="ignore", invalid="ignore"):
            bounds = [numpy.broadcast_to(numpy.asarray(b, dtype=numpy.float64), shape) for b in bound(*(numpy.abs(a).astype(numpy.float64) for a in ints))]
        overflowing = numpy.zeros(shape, dtype=bool)
        for b in bounds:
            overflowing |= ~(b < SAFE)  # NaN or inf count as overflowing
        if not overflowing.any():
            results = compute(*ints)
            return [numpy.broadcast_to(numpy.asarray(r, dtype=numpy.int64), shape) for r in results]
        # Exact: Python integers in object arrays (numpy applies int's own operators).
        objects = [a.astype(object) for a in ints]
        results = compute(*objects)
        return [_exact_ints(r, shape) for r in results]

    return evaluate


def as_int_array(values: Any, name: str) -> numpy.ndarray:
    """Integer values as an int64 array; refuses fractions and floats that are not whole."""
    array = numpy.asarray(values)
    if array.dtype == object:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in array.flat):
            raise ValueError(f"{name}: every value must be an integer")
        if any(abs(v) >= 2**63 for v in array.flat):
            raise ValueError(f"{name}: a value is beyond 2**63")
        return array.astype(numpy.int64)
    if array.dtype.kind in "iu":
        return array.astype(numpy.int64)
    if array.dtype.kind == "f":
        if not numpy.all(numpy.isfinite(array)) or not numpy.all(array == numpy.floor(array)):
            raise ValueError(f"{name}: every value must be a whole number (found a fraction)")
        if numpy.any(numpy.abs(array) >= 2.0**63):
            raise ValueError(f"{name}: a value is beyond 2**63")
        return array.astype(numpy.int64)
    raise ValueError(f"{name}: expected integers, found {array.dtype}")


def _exact_ints(result: Any, shape: tuple[int, ...]) -> numpy.ndarray:
    array = numpy.broadcast_to(numpy.asarray(result, dtype=object), shape)
    flat = numpy.empty(array.size, dtype=object)
    flat[:] = [int(v) for v in array.flat]
    return flat.reshape(shape)


def integer_form(expr: sympy.Expr) -> sympy.Expr:
    """The same integer-valued formula with integer coefficients only, so that numpy never
    divides in floating point: floor(p/q) and ceiling(p/q) become FloorDiv, a rational
    coefficient inside a floor division moves into its divisor, and a formula that is a
    polynomial over a common denominator d (an integer for every value) becomes p // d."""
    expr = expr.replace(sympy.floor, lambda x: _floordiv(x, sympy.Integer(1)))
    expr = expr.replace(sympy.ceiling, lambda x: -_floordiv(-x, sympy.Integer(1)))
    expr = expr.replace(FloorDiv, _floordiv)
    numerator, denominator = sympy.fraction(sympy.together(expr))
    if denominator != 1:
        expr = _floordiv(numerator / denominator, sympy.Integer(1))
    if any(not r.is_Integer for r in expr.atoms(sympy.Rational)) or expr.atoms(sympy.Float):
        raise ValueError(f"{expr} is not an integer formula")
    return expr


def _floordiv(value: sympy.Expr, divisor: sympy.Expr) -> sympy.Expr:
    numerator, denominator = sympy.fraction(sympy.together(value))
    if not (denominator.is_Integer and denominator > 0 and divisor.is_Integer and divisor > 0):
        raise ValueError(f"cannot write ({value}) // {divisor} with integers")
    return FloorDiv(sympy.expand(numerator), denominator * divisor)
