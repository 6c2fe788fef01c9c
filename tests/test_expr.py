"""The expression language: parsing, exact evaluation, errors, and FloorDiv against Python."""

from fractions import Fraction

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from archspec.errors import ExprError
from archspec.expr import parse
from archspec.symbolic import FloorDiv, symbol

ENV = {"k": 5, "H": 224, "w": Fraction(1, 2)}

EVALUATIONS = [
    ("2*k", 10),
    ("k//2", 2),
    ("-k//2", -3),  # floor semantics, as Python
    ("k % 3", 2),
    ("ceil(H/32)", 7),
    ("ceil(225/32)", 8),
    ("floor(H/3)", 74),
    ("2**k", 32),
    ("-2**2", -4),  # ** binds tighter than unary minus, as Python
    ("2**-1", Fraction(1, 2)),
    ("(k + 1) * (k - 1)", 24),
    ("min(k, 3, 4)", 3),
    ("max(k, H)", 224),
    ("abs(-k)", 5),
    ("round(2.5)", 2),  # half to even
    ("round(w*k)", 2),
    ("log2(H//7)", 5),
    ("H * w", 112),
    ("0.25 * 8", 2),
    ("1e3", 1000),
    ("k / 2", Fraction(5, 2)),
]


@pytest.mark.parametrize("source, expected", EVALUATIONS)
def test_evaluates_exactly(source, expected):
    value = parse(source).evaluate(ENV)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "source, message",
    [
        ("k*", "unexpected end of expression"),
        ("(k + 1", r"expected '\)'"),
        ("k +* 2", "unexpected '\\*'"),
        ("kk * 2", "unknown name 'kk'.*did you mean 'k'"),
        ("sqrt(k)", "unknown function 'sqrt'"),
        ("k.real", "unexpected character '.'"),
        ("__import__('os')", "unexpected character"),
        ("2**2**2**40", "too large"),
        ("k // 0", "division by zero"),
        ("log2(k)", "power of two"),
        ("min()", "unexpected"),
        ("abs(k, k)", "takes 1 argument"),
        ("", "empty expression"),
        ("(" * 50 + "1" + ")" * 50, "nests deeper"),
        ("1" * 600, "limit is 500"),
    ],
)
def test_errors_say_what_is_wrong(source, message):
    with pytest.raises(ExprError, match=message):
        parse(source).evaluate(ENV)


def test_names_lists_the_params_used():
    assert parse("ceil(H/s) * k + max(a, 2)").names() == {"H", "s", "k", "a"}


def test_free_symbol_gives_exact_integer_expression():
    B = symbol("B")
    value = parse("ceil(B/4) + B//2").evaluate({"B": B})
    assert value.is_integer
    for b in range(1, 40):
        assert value.subs(B, b) == -(-b // 4) + b // 2


@given(st.integers(-10**6, 10**6), st.integers(1, 500))
def test_floordiv_of_constants_matches_python(a, b):
    assert FloorDiv(sympy.Integer(a), sympy.Integer(b)) == a // b


@given(
    st.integers(-50, 50), st.integers(-50, 50), st.integers(1, 12), st.integers(1, 12), st.integers(1, 10**4)
)
def test_floordiv_rewrites_are_exact(c1, c0, d1, d2, h):
    """Whatever FloorDiv.eval rewrites (pulling out divisible terms, folding nests) stays exact."""
    H = symbol("H")
    expr = FloorDiv(FloorDiv(c1 * H + c0, d1), d2)
    assert expr.subs(H, h) == ((c1 * h + c0) // d1) // d2


@given(st.integers(-50, 50), st.integers(-50, 50))
def test_comparisons_give_one_or_zero_as_python_decides(a, b):
    env = {"a": a, "b": b}
    for op in ("==", "!=", "<", "<=", ">", ">="):
        assert parse(f"a {op} b").evaluate(env) == int(eval(f"{a} {op} {b}"))  # noqa: S307 - test oracle on ints
    assert parse("a + 1 == b + 1").evaluate(env) == int(a == b)  # comparison binds loosest


def test_comparison_of_free_params_is_refused():
    assert parse("2*H == H + H").evaluate({"H": symbol("H")}) == 1  # decided for every H
    with pytest.raises(ExprError, match="depends on free params"):
        parse("H == 3").evaluate({"H": symbol("H")})


def make_divisible_reference(v, divisor, min_value=None):
    """torchvision/models/_utils.py::_make_divisible, restated with exact arithmetic."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + Fraction(divisor, 2)) // divisor * divisor)
    return new_v + divisor if new_v < Fraction(9, 10) * v else new_v


@given(st.fractions(min_value=1, max_value=4000, max_denominator=100), st.sampled_from([1, 4, 8, 16]))
def test_make_divisible_follows_torchvision(v, divisor):
    assert parse(f"make_divisible({v.numerator}/{v.denominator}, {divisor})").evaluate({}) == make_divisible_reference(v, divisor)


def test_make_divisible_examples():
    assert [parse(text).evaluate({}) for text in ("make_divisible(24, 8)", "make_divisible(10, 8)", "make_divisible(3, 8, 1)")] == [24, 16, 9]
    with pytest.raises(ExprError, match="needs numbers"):
        parse("make_divisible(H, 8)").evaluate({"H": symbol("H")})
