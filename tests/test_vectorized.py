"""archspec/vectorized.py: numpy speed with exact integers at every magnitude.

The oracle is Python's own integer arithmetic on the same formula, evaluated point by
point with sympy's exact substitution; int64 would wrap silently past 2**63.
"""

import numpy
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from archspec.symbolic import FloorDiv, symbol
from archspec.vectorized import exact_function, integer_form, magnitude_bound

B, H = symbol("B"), symbol("H")


def exact_at(expr, b, h):
    return int(expr.xreplace({B: sympy.Integer(b), H: sympy.Integer(h)}))


coefficients = st.integers(-(2**40), 2**40)
values = st.integers(1, 2**34)


@given(coefficients, coefficients, st.integers(1, 97), st.lists(st.tuples(values, values), min_size=1, max_size=6))
def test_polynomials_with_floor_divisions_are_exact_at_any_magnitude(a, c, d, points):
    expr = a * B**2 * H + c * FloorDiv(3 * H + a, d) * B + sympy.Max(B, H) - sympy.Min(B, 2 * H)
    evaluate = exact_function(["B", "H"], [expr])
    bs = numpy.array([p[0] for p in points])
    hs = numpy.array([p[1] for p in points])
    (result,) = evaluate(bs, hs)
    assert [int(v) for v in result] == [exact_at(expr, b, h) for b, h in points]


def test_int64_is_kept_where_every_value_fits_and_exact_ints_beyond():
    evaluate = exact_function(["B"], [12 * B**3])
    small, = evaluate(numpy.array([1, 2, 1000]))
    assert small.dtype == numpy.int64 and small.tolist() == [12, 96, 12 * 10**9]
    big, = evaluate(numpy.array([1, 2**30]))
    assert big.dtype == object and big.tolist() == [12, 12 * 2**90]


def test_causal_pair_counts_and_rational_coefficients_stay_integer():
    expr = sympy.floor(H * (H + 1) / 2) * B + sympy.Rational(3, 2) * H * (H + 1)
    form = integer_form(expr)
    assert not [r for r in form.atoms(sympy.Rational) if not r.is_Integer]
    evaluate = exact_function(["B", "H"], [expr])
    (result,) = evaluate(numpy.array([3, 2**40]), numpy.array([5, 2**31 + 1]))
    assert result.tolist() == [exact_at(expr, 3, 5), exact_at(expr, 2**40, 2**31 + 1)]


def test_the_bound_covers_every_intermediate():
    # (B*H - B*H + 1): each product is large even though the result is 1
    expr = sympy.Add(B * H, -B * H, 1, evaluate=False)
    assert magnitude_bound(expr).xreplace({B: 2**40, H: 2**40}) >= 2**80


@pytest.mark.parametrize("bad", [[1.5, 2.0], [numpy.inf], ["x"]])
def test_fractions_and_non_numbers_are_refused_not_truncated(bad):
    evaluate = exact_function(["B"], [2 * B])
    with pytest.raises(ValueError):
        evaluate(numpy.array(bad))
