"""Integer arithmetic that works on plain ints and on sympy expressions alike.

Every dimension and count in archspec is a `Value`: a Python `int` when all params
are bound, otherwise an exact sympy integer expression. Rules are written once with
these helpers; they stay in Python ints whenever they can, so a fully bound analysis
never imports sympy.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Iterable, Union

Value = Union[int, Any]  # Any: a sympy.Expr, imported lazily


def is_concrete(value: Value) -> bool:
    """True for a plain int (or a sympy integer constant)."""
    if isinstance(value, int):
        return True
    return bool(getattr(value, "is_Integer", False))


def as_plain(value: Value) -> Value:
    """Turn a sympy integer constant into an int; leave everything else alone."""
    if isinstance(value, int) or not getattr(value, "is_Integer", False):
        return value
    return int(value)


def floordiv(a: Value, b: Value) -> Value:
    """a // b with Python's floor semantics, exact for symbols too."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    from archspec.symbolic import FloorDiv

    return as_plain(FloorDiv(a, b))


def ceildiv(a: Value, b: Value) -> Value:
    """ceil(a / b) for integers, exact for symbols too."""
    return -floordiv(-a, b)


def maximum(a: Value, b: Value) -> Value:
    """The larger of two integers, or sympy's Max of expressions."""
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    import sympy

    return as_plain(sympy.Max(a, b))


# sympy's Max proves its arguments' order pair by pair, and one proof over nested floors can take
# 10 ms: a peak over a few hundred layers took minutes. Past this many candidates left by the
# cheap test below, the Max is built as it stands: exact, only not pruned further.
PAIRWISE_MAX_ARGS = 16


def largest_sum(sums: Iterable[Iterable[Value]]) -> Value:
    """The largest of several sums of nonnegative values (sizes), exact: a sum whose every term
    another sum matches or exceeds is dropped without a proof; sympy's Max sees the rest."""
    sums = [list(parts) for parts in sums]
    if all(isinstance(v, int) for parts in sums for v in parts):
        return max((sum(parts) for parts in sums), default=0)
    import sympy

    candidates: dict[frozenset, list[Value]] = {}
    for parts in sums:
        candidates.setdefault(_coefficients(parts), parts)
    kept: list[frozenset] = []
    # heaviest first, so that most sums meet one that covers them early
    for terms in sorted(candidates, key=lambda t: -sum(c for _, c in t)):
        if any(_covered(terms, other) for other in kept):
            continue
        kept = [other for other in kept if not _covered(other, terms)] + [terms]
    values = [total(candidates[terms]) for terms in kept]
    if len(values) <= PAIRWISE_MAX_ARGS:
        return as_plain(sympy.Max(*values))
    return sympy.Max(*sorted(values, key=sympy.default_sort_key), evaluate=False)


def _coefficients(parts: list[Value]) -> frozenset:
    """A sum of nonnegative values as {base: coefficient}, each coefficient positive and each
    base a value divided by its coefficient (so nonnegative too): 2*x + 2, 3*x + 3 and 4 are
    {x + 1: 5, 1: 4}."""
    import sympy

    terms: dict[Any, Any] = {}
    for value in parts:
        if isinstance(value, int):
            coefficient, base = value, sympy.S.One
        else:
            # 28672*f + 28672 is 28672 * (f + 1): the sizes of one resolution share their base
            # (sympy's content is a positive rational, so the base, the value over it, is nonnegative too)
            coefficient, base = value.as_content_primitive()
        if coefficient:
            terms[base] = terms.get(base, 0) + coefficient
    return frozenset(terms.items())


def _covered(small: frozenset, large: frozenset) -> bool:
    """Whether every base's coefficient in `small` is at most its coefficient in `large`: then
    small <= large wherever the bases are nonnegative."""
    coefficients = dict(large)
    return all(coefficient <= coefficients.get(base, 0) for base, coefficient in small)


def minimum(a: Value, b: Value) -> Value:
    """The smaller of two integers, or sympy's Min of expressions."""
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    import sympy

    return as_plain(sympy.Min(a, b))


def product(values: Iterable[Value]) -> Value:
    """The product of integers or expressions (1 for none)."""
    result: Value = 1
    for v in values:
        result = result * v
    return as_plain(result)


def total(values: Iterable[Value]) -> Value:
    """The sum of integers or expressions, built in one step for sympy."""
    values = list(values)
    if all(isinstance(v, int) for v in values):
        return sum(values)
    import sympy

    # One Add(*terms) instead of repeated `+=`: about 9x faster on deep networks.
    return as_plain(sympy.Add(*values))


def to_exact(value: Any) -> Value | Fraction:
    """Normalize an int, Fraction or sympy number; Fractions with denominator 1 become ints."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value.numerator)
    return as_plain(value)


def definitely_less(a: Value, b: Value) -> bool:
    """True when a < b holds for every value of the free symbols (symbols are >= 1).

    Undecided comparisons answer False: rules only reject what is certainly wrong.
    """
    if isinstance(a, int) and isinstance(b, int):
        return a < b
    difference = b - a
    if getattr(difference, "is_positive", None) is True:
        return True
    return False


def definitely_different(a: Value, b: Value) -> bool:
    """True when a != b for certain (numbers differ, or the difference is a nonzero constant)."""
    if isinstance(a, int) and isinstance(b, int):
        return a != b
    import sympy

    difference = sympy.expand(a - b)
    return difference.is_zero is False and difference.is_number


def definitely_equal(a: Value, b: Value) -> bool:
    """True when a == b for every value of the free symbols."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    import sympy

    return sympy.expand(a - b) == 0


def evaluate_at(value: Value, values: dict[str, int]) -> Value:
    """The value with free params replaced by numbers, e.g. evaluate_at(macs, {"B": 8})."""
    if isinstance(value, int):
        return value
    import sympy

    from archspec.symbolic import symbol

    return as_plain(value.xreplace({symbol(name): sympy.Integer(v) for name, v in values.items()}))
