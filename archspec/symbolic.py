"""The sympy side of archspec: positive integer symbols and exact floor division.

Only imported when a value is symbolic, so fully bound analyses never pay for sympy.
`FloorDiv` replaces `sympy.floor(a / b)`: its `eval` does only cheap, always-true
rewrites, which keeps nested conv/pool output sizes compact and about 20x faster to
build than sympy's floor (see shared notes on symbolic engines).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import sympy


@lru_cache(maxsize=None)
def symbol(name: str) -> sympy.Symbol:
    """The symbol for a free param: a positive integer, as every dimension is."""
    return sympy.Symbol(name, positive=True, integer=True)


def to_sympy(value):
    """An int, Fraction or sympy value as a sympy value (never by parsing text)."""
    if isinstance(value, bool):
        raise TypeError(f"expected a number or a sympy expression, found {value!r}")
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, sympy.Basic):
        return value
    raise TypeError(f"expected a number or a sympy expression, found {value!r}")


class FloorDiv(sympy.Function):
    """Integer floor division a // b, printed as (a//b)."""

    nargs = (2,)
    is_integer = True

    @classmethod
    def eval(cls, base, divisor):
        if divisor.is_zero:
            raise ZeroDivisionError("floor division by zero")
        if base.is_Integer and divisor.is_Integer:
            return sympy.Integer(int(base) // int(divisor))
        if divisor == 1:
            return base
        if base.is_zero:
            return sympy.Integer(0)
        if not (divisor.is_Integer and divisor > 0):
            return None
        d = int(divisor)
        # (a // m) // n == a // (m*n) for positive integers m, n.
        if isinstance(base, FloorDiv) and base.args[1].is_Integer and base.args[1] > 0:
            return FloorDiv(base.args[0], base.args[1] * d)
        # Pull out the terms that d divides exactly: (x + 4y) // 2 == x // 2 + 2y.
        terms = sympy.Add.make_args(base)
        exact, rest = [], []
        for term in terms:
            coefficient, _ = term.as_coeff_Mul()
            if coefficient.is_Integer and int(coefficient) % d == 0:
                exact.append(term / d)
            else:
                rest.append(term)
        if exact:
            return sympy.Add(*exact) + FloorDiv(sympy.Add(*rest), divisor)
        return None

    def _eval_is_nonnegative(self):
        base, divisor = self.args
        if base.is_nonnegative and divisor.is_positive:
            return True
        return None

    def _eval_is_positive(self):
        base, divisor = self.args
        if divisor.is_positive and (base - divisor).is_nonnegative:
            return True
        return None

    def _sympystr(self, printer):
        base, divisor = self.args
        text = printer.doprint(base)
        if not (base.is_Atom or isinstance(base, FloorDiv)):
            text = f"({text})"
        return f"({text}//{printer.doprint(divisor)})"

    def _latex(self, printer):
        base, divisor = self.args
        return rf"\left\lfloor \frac{{{printer.doprint(base)}}}{{{printer.doprint(divisor)}}} \right\rfloor"
