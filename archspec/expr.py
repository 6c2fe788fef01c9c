"""The small expression language of spec fields: `"2*k"`, `"k//2"`, `"ceil(H/32)"`.

Spec text is never evaluated as Python: it is tokenized and parsed here into a tree of
frozen nodes, and evaluated by walking that tree. Numbers stay exact (int, Fraction);
a free param makes the result a sympy expression.

Grammar (precedence low to high)::

    expr   := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)?    # 1 if true, else 0
    sum    := term (('+' | '-') term)*
    term   := unary (('*' | '/' | '//' | '%') unary)*
    unary  := ('-' | '+') unary | power
    power  := atom ('**' unary)?
    atom   := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction
from typing import Any, Callable, Mapping, Union

from archspec.dims import ceildiv, floordiv, to_exact
from archspec.errors import ExprError, did_you_mean
from archspec.limits import active

MAX_SOURCE_LENGTH = 500
MAX_NESTING = 40
# Exact numbers stay below 2**max_bits (archspec.limits, settable): that stops `2**2**2**40`, and
# a literal's exponent is bounded to match (1e80 at 256 bits), so 1e99999999 is never expanded.

Number = Union[int, Fraction]


@dataclass(frozen=True)
class Num:
    value: Number


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Node", ...]


Node = Union[Num, Name, Unary, Binary, Call]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|==|!=|<=|>=|[-+*/%(),<>]))"
)


def _tokenize(source: str) -> list[tuple[str, str, int]]:
    tokens = []
    position = 0
    stripped_end = len(source.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            bad = source[position:].lstrip()[:1]
            raise ExprError(
                f"unexpected character {bad!r} at position {position + 1} in {source!r}; "
                "expressions use numbers, param names, + - * / // % **, comparisons, parentheses and "
                + ", ".join(sorted(FUNCTIONS))
            )
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0

    def fail(self, detail: str) -> ExprError:
        done = self.source[: self.tokens[self.index][2]] if self.index < len(self.tokens) else self.source
        return ExprError(f"syntax error in {self.source!r}: {detail} (parsed {done.strip()!r} so far)")

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        if self.index >= len(self.tokens):
            raise self.fail("unexpected end of expression")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if self.index >= len(self.tokens):
            # In a YAML flow mapping `{out: max(2, 3)}` the comma ends the value early.
            hint = "; in a YAML {...} mapping, quote an expression that has a comma" if text == ")" else ""
            raise self.fail(f"expected {text!r} but the expression ended{hint}")
        token = self.take()
        if token[1] != text:
            self.index -= 1
            raise self.fail(f"expected {text!r}, found {token[1]!r}")

    def parse(self) -> Node:
        if not self.tokens:
            raise ExprError("empty expression")
        node = self.expr()
        if self.index != len(self.tokens):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def nested(self, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(f"expression {self.source[:60]!r} nests deeper than {MAX_NESTING} levels")
        try:
            return parse()
        finally:
            self.depth -= 1

    def expr(self) -> Node:
        node = self.sum()
        if self.peek() in _COMPARISONS:
            op = self.take()[1]
            node = Binary(op, node, self.sum())
        return node

    def sum(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/", "//", "%"):
            op = self.take()[1]
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() in ("-", "+"):
            op = self.take()[1]
            return Unary(op, self.nested(self.unary))
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        if self.peek() == "**":
            self.take()
            node = Binary("**", node, self.nested(self.unary))
        return node

    def atom(self) -> Node:
        kind, text, _ = self.take()
        if kind == "number":
            value = literal(text, self.source)
            return Num(int(value) if value.denominator == 1 else value)
        if kind == "name":
            if self.peek() != "(":
                return Name(text)
            if text not in FUNCTIONS:
                raise ExprError(
                    f"unknown function {text!r} in {self.source!r}{did_you_mean(text, FUNCTIONS)} "
                    f"(known: {', '.join(sorted(FUNCTIONS))})"
                )
            self.take()
            args = [self.nested(self.expr)]
            while self.peek() == ",":
                self.take()
                args.append(self.nested(self.expr))
            self.expect(")")
            return Call(text, tuple(args))
        if text == "(":
            node = self.nested(self.expr)
            self.expect(")")
            return node
        self.index -= 1
        raise self.fail(f"unexpected {text!r}")


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its source text and its tree."""

    source: str
    tree: Node

    @property
    def is_literal(self) -> bool:
        return isinstance(self.tree, Num)

    def names(self) -> set[str]:
        """The param names the expression uses."""
        found: set[str] = set()
        stack: list[Node] = [self.tree]
        while stack:
            node = stack.pop()
            if isinstance(node, Name):
                found.add(node.id)
            elif isinstance(node, Unary):
                stack.append(node.operand)
            elif isinstance(node, Binary):
                stack += [node.left, node.right]
            elif isinstance(node, Call):
                stack += list(node.args)
        return found

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """The exact value under `env` (names to int, Fraction or sympy values; a bare name
        may stand for a tuple, a list passed through a block argument)."""
        if isinstance(self.tree, Name) and isinstance(env.get(self.tree.id), tuple):
            return env[self.tree.id]
        try:
            return to_exact(_evaluate(self.tree, env, self.source))
        except ZeroDivisionError:
            raise ExprError(f"division by zero in {self.source!r}") from None

    def __str__(self) -> str:
        return self.source


def parse(source: str | int) -> Expr:
    """Parse spec text (or an int) into an Expr; raises ExprError with the reason."""
    if isinstance(source, bool):
        raise ExprError(f"expected a number or an expression, found {source!r}")
    if isinstance(source, int):
        return _parse_int(source) if -1024 <= source <= 1 << 20 else Expr(str(source), Num(source))
    if not isinstance(source, str):
        raise ExprError(f"expected a number or an expression, found {source!r}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExprError(f"expression is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}")
    return _parse_text(source, active().max_bits)


# A spec repeats the same few numbers and expressions thousands of times; an Expr is frozen, so
# one parse serves them all (bounded caches).
@lru_cache(maxsize=4096)
def _parse_int(source: int) -> Expr:
    return Expr(str(source), Num(source))


@lru_cache(maxsize=4096)
def _parse_text(source: str, max_bits: int) -> Expr:  # max_bits: literals were size-checked against it
    return Expr(source.strip(), _Parser(source).parse())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Fraction))


def literal(text: str, source: str) -> Fraction:
    """A number literal, exact; its size is checked before it is expanded (1e99999999 is refused
    without computing 10**99999999)."""
    limits = active()
    max_bits, max_exponent = limits.max_bits, limits.max_literal_exponent
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and abs(int(exponent)) > max_exponent:
        raise ExprError(f"the number {text} in {source!r} is out of range (exponents up to {max_exponent}; --limit max_bits)")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    if digits * 3.33 > max_bits + 64:
        raise ExprError(f"the number {text[:20]}... in {source!r} has {digits} digits; numbers stay below 2**{max_bits} (--limit max_bits)")
    return check_size(Fraction(text), source)


MAX_SYMBOLIC_DEGREE = 64  # a param to a higher power is no size; bound later, it would be a huge number
MAX_SYMBOLIC_NODES = 2000  # a formula this large is no spec's; sympy would take seconds over it


def check_symbolic(value: Any, source: str) -> Any:
    """Refuse a formula whose powers or size would make sympy (or a later binding) explode:
    `a*a*...` chained through params grows the degree, sums of products grow the tree."""
    import sympy

    if not isinstance(value, sympy.Basic) or value.is_Number:
        return value
    for power in value.atoms(sympy.Pow):
        if power.exp.is_Integer and abs(int(power.exp)) > MAX_SYMBOLIC_DEGREE:
            raise ExprError(f"{source!r} raises a param to the power {power.exp}; formulas stay below degree {MAX_SYMBOLIC_DEGREE}")
    nodes = sum(1 for _ in sympy.preorder_traversal(value))
    if nodes > MAX_SYMBOLIC_NODES:
        raise ExprError(f"{source!r} builds a formula of {nodes:,} terms; formulas stay below {MAX_SYMBOLIC_NODES:,}")
    return value


def check_size(value: Any, source: str) -> Any:
    """Refuse an exact number beyond 2**max_bits (numerator or denominator)."""
    if isinstance(value, int):
        bits = value.bit_length()
    elif isinstance(value, Fraction):
        bits = max(value.numerator.bit_length(), value.denominator.bit_length())
    else:
        return value
    max_bits = active().max_bits
    if bits > max_bits:
        raise ExprError(f"{source!r} evaluates to a number of {bits} bits; numbers stay below 2**{max_bits} (--limit max_bits)")
    return value


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) or getattr(value, "is_integer", False) is True


def _sym(value: Any) -> Any:
    if isinstance(value, Fraction):
        import sympy

        return sympy.Rational(value.numerator, value.denominator)
    return value


def _exact_root(value: Fraction, degree: int) -> Fraction | None:
    """The degree-th root of a non-negative rational when it is rational (64**(1/2) = 8), else None."""
    parts = []
    for part in (value.numerator, value.denominator):
        root = round(part ** (1 / degree)) if part.bit_length() < 1000 else None
        if root is None:
            return None
        root = next((r for r in (root - 1, root, root + 1) if r >= 0 and r**degree == part), None)
        if root is None:
            return None
        parts.append(root)
    return Fraction(parts[0], parts[1])


def _power(base: Any, exponent: Any, source: str) -> Any:
    if isinstance(exponent, Fraction) and exponent.denominator != 1:
        # a rational exponent (hd**-0.5): exact when the root is rational, as 64**-0.5 = 1/8
        if not _is_number(base):
            raise ExprError(f"exponent {exponent} in {source!r} needs a number as its base, not an expression of free params")
        if base < 0 or exponent.denominator > 64:
            raise ExprError(f"{base}**{exponent} in {source!r} is not a real rational number")
        root = _exact_root(Fraction(base), exponent.denominator)
        if root is None:
            # irrational (32**-0.5): the double Python computes, as the model's own code does
            try:
                return Fraction(float(base) ** float(exponent))
            except (OverflowError, ZeroDivisionError):
                raise ExprError(f"{base}**{exponent} in {source!r} is out of range") from None
        return _power(root, exponent.numerator, source)
    if not (isinstance(exponent, int) or (isinstance(exponent, Fraction) and exponent.denominator == 1)):
        if _is_number(exponent):
            raise ExprError(f"exponent {exponent} in {source!r} is not an integer")
        raise ExprError(f"exponent in {source!r} must be a number, not an expression of free params")
    exponent = int(exponent)
    if _is_number(base):
        # both the numerator and the denominator grow with the exponent: (1/3)**-(10**60)
        parts = (base.numerator, base.denominator) if isinstance(base, Fraction) else (base,)
        # a lower bound of the result's size, checked before computing it: past it the power is
        # surely too large; under it the result is at most twice the limit, and checked exactly
        max_bits = active().max_bits
        if any(abs(part) > 1 and (abs(part).bit_length() - 1) * abs(exponent) + 1 > max_bits for part in parts):
            raise ExprError(f"the power in {source!r} is too large (beyond 2**{max_bits}; --limit max_bits)")
        if exponent < 0:
            if base == 0:
                raise ZeroDivisionError
            return check_size(Fraction(1) / Fraction(base) ** -exponent, source)
        return check_size(base**exponent, source)
    if abs(exponent) > 64:
        raise ExprError(f"exponent {exponent} in {source!r} is too large for a symbolic expression")
    return _sym(base) ** exponent


def _round(value: Any, source: str) -> Any:
    if not _is_number(value):
        raise ExprError(f"round() in {source!r} needs a number, not an expression of free params")
    return round(value)  # half to even, as Python's round


def _log2(value: Any, source: str) -> Any:
    if isinstance(value, int) and value > 0 and value & (value - 1) == 0:
        return value.bit_length() - 1
    raise ExprError(f"log2() in {source!r} needs a power of two, found {value}")


def _ceil_or_floor(node: Call, env: Mapping[str, Any], source: str) -> Any:
    (arg,) = node.args
    # ceil(a / b) and floor(a / b) become exact integer divisions, also for symbols.
    if isinstance(arg, Binary) and arg.op == "/":
        a = _evaluate(arg.left, env, source)
        b = _evaluate(arg.right, env, source)
        if _is_integer(a) and _is_integer(b):
            if b == 0:
                raise ZeroDivisionError
            return floordiv(a, b) if node.func == "floor" else ceildiv(a, b)
        value = Fraction(a) / b if _is_number(a) and _is_number(b) else _sym(a) / _sym(b)
    else:
        value = _evaluate(arg, env, source)
    if _is_number(value):
        return math.floor(value) if node.func == "floor" else math.ceil(value)
    import sympy

    return sympy.floor(value) if node.func == "floor" else sympy.ceiling(value)


def _min_max(node: Call, env: Mapping[str, Any], source: str) -> Any:
    values = [_evaluate(arg, env, source) for arg in node.args]
    if all(_is_number(v) for v in values):
        return min(values) if node.func == "min" else max(values)
    import sympy

    values = [_sym(v) for v in values]
    return sympy.Min(*values) if node.func == "min" else sympy.Max(*values)


def _abs(node: Call, env: Mapping[str, Any], source: str) -> Any:
    return abs(_evaluate(node.args[0], env, source))


def _make_divisible(node: Call, env: Mapping[str, Any], source: str) -> Any:
    # torchvision's _make_divisible (from the TF MobileNet code): round to the nearest
    # multiple of the divisor, at least min_value, and never more than 10% below v.
    if len(node.args) not in (2, 3):
        raise ExprError(f"make_divisible() takes 2 or 3 arguments (v, divisor, min_value), found {len(node.args)}")
    values = [_evaluate(arg, env, source) for arg in node.args]
    if not all(_is_number(v) for v in values):
        raise ExprError(f"make_divisible() in {source!r} needs numbers, not expressions of free params")
    v, divisor = Fraction(values[0]), values[1]
    if not isinstance(divisor, int) or divisor < 1:
        raise ExprError(f"make_divisible() in {source!r}: the divisor must be a positive integer, found {divisor}")
    minimum = values[2] if len(values) == 3 else divisor
    rounded = max(minimum, math.floor(v + Fraction(divisor, 2)) // divisor * divisor)
    if rounded < Fraction(9, 10) * v:
        rounded += divisor
    return rounded


FUNCTIONS: dict[str, tuple[int | None, Callable[[Call, Mapping[str, Any], str], Any]]] = {
    # name: (number of arguments or None for one or more, evaluator)
    "ceil": (1, _ceil_or_floor),
    "floor": (1, _ceil_or_floor),
    "min": (None, _min_max),
    "max": (None, _min_max),
    "abs": (1, _abs),
    "round": (1, lambda node, env, source: _round(_evaluate(node.args[0], env, source), source)),
    "log2": (1, lambda node, env, source: _log2(_evaluate(node.args[0], env, source), source)),
    "make_divisible": (None, _make_divisible),
}


def _evaluate(node: Node, env: Mapping[str, Any], source: str) -> Any:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        if node.id not in env:
            known = sorted(env)
            raise ExprError(
                f"unknown name {node.id!r} in {source!r}{did_you_mean(node.id, known)}"
                + (f" (params in scope: {', '.join(known)})" if known else " (no params are in scope here)")
            )
        if isinstance(env[node.id], tuple):
            raise ExprError(f"{node.id!r} is a list; a list is passed to a field as a whole, not computed with, in {source!r}")
        return env[node.id]
    if isinstance(node, Unary):
        value = _evaluate(node.operand, env, source)
        return -value if node.op == "-" else value
    if isinstance(node, Call):
        arity, evaluator = FUNCTIONS[node.func]
        if arity is not None and len(node.args) != arity:
            raise ExprError(f"{node.func}() takes {arity} argument(s), found {len(node.args)} in {source!r}")
        return evaluator(node, env, source)
    left = _evaluate(node.left, env, source)
    right = _evaluate(node.right, env, source)
    if node.op == "**":
        return _power(left, right, source)
    if node.op in _COMPARISONS:
        return _compare(node.op, left, right, source)
    if _is_number(left) and _is_number(right):
        # Exact arithmetic on int and Fraction, no sympy; every result bounded (2**128*2**128*2**128)
        return check_size(_NUMBER_OPS[node.op](left, right), source)
    left, right = _sym(left), _sym(right)
    if node.op == "//":
        return check_symbolic(floordiv(left, right), source)
    if node.op == "%":
        return check_symbolic(left - right * floordiv(left, right), source)
    return check_symbolic(_NUMBER_OPS[node.op](left, right), source)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: Any, right: Any, source: str) -> int:
    difference = left - right
    if not _is_number(difference):
        import sympy

        difference = sympy.expand(_sym(difference))
        if not difference.is_number:
            raise ExprError(f"the comparison in {source!r} depends on free params; bind them to compare")
        difference = Fraction(str(difference))
    return int(_COMPARISONS[op](difference, 0))


_NUMBER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: Fraction(a) / b if _is_number(a) else a / b,
    "//": operator.floordiv,
    "%": operator.mod,
}
