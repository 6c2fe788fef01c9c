"""Spec text is never run as code: payloads through every expression field, and the
expression evaluator against sympy's arithmetic on trees built in the test."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ArchspecError, ExprError, SpecError
from archspec.expr import parse
from archspec.layers import REGISTRY
from archspec.layers.base import int_fields
from archspec.symbolic import symbol

ROOT = Path(__file__).resolve().parent.parent


def payloads(sentinel: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {sentinel}')",
        f"open('{sentinel}', 'w').write('x')",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "lambda: 1",
        "f'{1+1}'",
        "exec('1')",
        "eval('1')",
        "globals()['x']",
        "k.__dict__",
        "[1][0]",
        "1 if k else 2",
        "k; import os",
    ]


def spec_with(field: str, payload: str) -> dict:
    """A valid spec, with `payload` placed in one expression field."""
    spec = {
        "params": {"k": 4, "B": 1},
        "inputs": {"x": {"shape": ["B", 3, 8, 8]}},
        "blocks": {"Blk": {"args": {"n": 2}, "layers": [{"type": "Conv2d", "out_channels": "n", "kernel_size": 1}]}},
        "layers": [{"type": "Conv2d", "out_channels": "k", "kernel_size": 3}, {"type": "Blk", "n": 5}],
    }
    place = {
        "param": lambda: spec["params"].update(k=payload),
        "input shape": lambda: spec["inputs"]["x"].update(shape=["B", payload, 8, 8]),
        "layer argument": lambda: spec["layers"][0].update(out_channels=payload),
        "per-dim list item": lambda: spec["layers"][0].update(kernel_size=[3, payload]),
        "repeat": lambda: spec["layers"][0].update(repeat=payload),
        "block argument": lambda: spec["layers"][1].update(n=payload),
        "block default": lambda: spec["blocks"]["Blk"]["args"].update(n=payload),
    }
    place[field]()
    return spec


FIELDS = ["param", "input shape", "layer argument", "per-dim list item", "repeat", "block argument", "block default"]


@pytest.mark.parametrize("field", FIELDS)
def test_code_payloads_in_expression_fields_are_refused_without_side_effects(field, tmp_path):
    sentinel = tmp_path / "pwned"
    for payload in payloads(sentinel):
        with pytest.raises(SpecError) as info:
            archspec.analyze(spec_with(field, payload))
        assert info.value.problems, payload
        assert not sentinel.exists(), payload


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_integer_argument_of_every_layer_refuses_a_payload(type_name, tmp_path):
    sentinel = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {sentinel}')"
    for field_name in int_fields(REGISTRY[type_name]):
        messages = []
        for value in (payload, [payload]):  # a scalar field and a list field: one of the two parses the text
            with pytest.raises(SpecError) as info:
                archspec.validate({"inputs": {"x": {"shape": [1, 3, 8, 8]}}, "layers": [{"type": type_name, field_name: value}]})
            messages += [p.message for p in info.value.problems]
        assert any("unexpected character" in m for m in messages), (type_name, field_name, messages)
    assert not sentinel.exists()


def test_set_on_the_command_line_refuses_payloads(tmp_path):
    sentinel = tmp_path / "pwned"
    for payload in payloads(sentinel)[:4]:
        result = subprocess.run(
            [sys.executable, "-m", "archspec", "analyze", str(ROOT / "specs" / "lenet5.yaml"), "--set", f"B={payload}"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert not sentinel.exists()


def test_the_package_never_hands_text_to_python_evaluators():
    """No call of eval/exec/compile/__import__, nor of sympy's parsers (sympify and parse_expr
    evaluate Python), anywhere in the package: found by walking each module's syntax tree."""
    forbidden = {"eval", "exec", "compile", "__import__", "sympify", "parse_expr"}
    for path in (ROOT / "archspec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if name in forbidden and not (name == "compile" and isinstance(func, ast.Attribute)):  # re.compile
                    raise AssertionError(f"{path.name}:{node.lineno} calls {name}")


def test_yaml_python_tags_are_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    text = f"inputs: !!python/object/apply:os.system ['touch {sentinel}']\nlayers: [ReLU]\n"
    with pytest.raises(SpecError, match="tag"):
        archspec.analyze(text)
    assert not sentinel.exists()


# ---- the evaluator against sympy, on expression trees built here ----------------------
NAMES = {"a": 7, "b": -3, "c": 12}
POSITIVE_NAMES = {"a": 7, "b": 3, "c": 12}  # free symbols are positive integers


def leaf(env):
    return st.one_of(
        st.integers(0, 40).map(lambda n: (str(n), sympy.Integer(n))),
        st.sampled_from(sorted(env)).map(lambda name: (name, sympy.Integer(env[name]))),
    )


def _lift(function, *values):
    """function(*values), or None (undefined) when an operand is undefined."""
    return None if any(v is None for v in values) else function(*values)


def _floor_div(a, b):
    return None if b == 0 else sympy.floor(a / b)


def _mod(a, b):
    return None if b == 0 else sympy.Mod(a, b)  # the sign of the divisor, as Python's %


def _ceil_div(a, b):
    return None if b == 0 else sympy.ceiling(a / b)


_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "//": _floor_div, "%": _mod}


def combine(children):
    binary = st.tuples(st.sampled_from(sorted(_OPS)), children, children).map(
        lambda t: (f"({t[1][0]}) {t[0]} ({t[2][0]})", _lift(_OPS[t[0]], t[1][1], t[2][1]))
    )
    unary = children.map(lambda c: (f"-({c[0]})", _lift(lambda v: -v, c[1])))
    calls = st.tuples(st.sampled_from(["min", "max"]), children, children).map(
        lambda t: (f"{t[0]}({t[1][0]}, {t[2][0]})", _lift(sympy.Min if t[0] == "min" else sympy.Max, t[1][1], t[2][1]))
    )
    power = st.tuples(children, st.integers(0, 3)).map(lambda t: (f"({t[0][0]})**{t[1]}", _lift(lambda v: v ** t[1], t[0][1])))
    ceil = st.tuples(children, children).map(lambda t: (f"ceil(({t[0][0]})/({t[1][0]}))", _lift(_ceil_div, t[0][1], t[1][1])))
    absolute = children.map(lambda c: (f"abs({c[0]})", _lift(sympy.Abs, c[1])))
    return st.one_of(binary, unary, calls, power, ceil, absolute)


def _has_undefined(value):
    return value is None


def expressions(env):
    return st.recursive(leaf(env), combine, max_leaves=12)


@given(expressions(NAMES))
def test_the_evaluator_agrees_with_sympy_arithmetic(case):
    text, expected = case
    if _has_undefined(expected):
        with pytest.raises(ArchspecError):
            parse(text).evaluate(NAMES)
        return
    if abs(expected) > 2**200:
        return  # beyond the grammar's result bound; that refusal is tested elsewhere
    assert parse(text).evaluate(NAMES) == int(expected), text


@given(expressions(POSITIVE_NAMES))
def test_a_symbolic_evaluation_substituted_equals_the_numeric_one(case):
    text, expected = case
    if _has_undefined(expected) or abs(expected) > 2**100:
        return
    symbols = {name: symbol(name) for name in POSITIVE_NAMES}
    try:
        formula = parse(text).evaluate(symbols)
    except ExprError:
        return  # e.g. an exponent that is itself a free param: refused, never guessed
    substituted = sympy.sympify(formula).xreplace({symbols[n]: sympy.Integer(v) for n, v in POSITIVE_NAMES.items()})
    assert substituted == int(expected), text
