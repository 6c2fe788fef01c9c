"""Products of two layer outputs: Matmul (torch.matmul) and Einsum."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from archspec.dims import Value, definitely_equal, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import Layer, Saved, Shape, broadcast_shapes, format_shape


@register
class Matmul(Layer):
    """torch.matmul of two inputs (`from: [a, b]`): (..., n, k) @ (..., k, m) -> (..., n, m),
    batch dims broadcast; a 1-D operand is a vector, as in torch.matmul.

    - MACs = prod(batch) * n * k * m
    """

    type: Literal["Matmul"]
    default_call = "operator"
    arity: ClassVar[tuple[int, int | None]] = (2, 2)

    def _operands(self, a: Shape, b: Shape) -> tuple[Shape, Value, Value, Value, Shape]:
        """(batch, n, k, m, output shape)."""
        a2 = (1, *a) if len(a) == 1 else a
        b2 = (*b, 1) if len(b) == 1 else b
        if not definitely_equal(a2[-1], b2[-2]):
            raise LayerError(f"cannot multiply {format_shape(a)} by {format_shape(b)}: inner sizes {a2[-1]} and {b2[-2]} differ")
        batch = broadcast_shapes(a2[:-2], b2[:-2]) if len(a2) > 2 or len(b2) > 2 else ()
        out = (*batch, *(() if len(a) == 1 else (a2[-2],)), *(() if len(b) == 1 else (b2[-1],)))
        return batch, a2[-2], a2[-1], b2[-1], out

    def output_shape(self, a: Shape, b: Shape) -> Shape:
        return self._operands(a, b)[4]

    def macs(self, a: Shape, b: Shape, out: Shape) -> Value:
        batch, n, k, m, _ = self._operands(a, b)
        return product(batch) * n * k * m

    def saved_for_backward(self, a: Shape, b: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=0), Saved(input=1))


_TERM = re.compile(r"^[a-zA-Z]*$")


@register
class Einsum(Layer):
    """torch.einsum over one or two inputs, e.g. `bhqd,bhkd->bhqk` (explicit output, no `...`).

    - MACs (two operands) = the product of the sizes of every index: one multiply per
      combination of indices, each added into its output element
    - other FLOPs (one operand) = numel(input) - numel(output) adds of the summed indices
    """

    type: Literal["Einsum"]
    default_call = "function"
    equation: str = Field(description="subscripts of each input, '->', subscripts of the output")
    arity: ClassVar[tuple[int, int | None]] = (1, 2)

    @field_validator("equation")
    @classmethod
    def _check_equation(cls, equation: str) -> str:
        text = equation.replace(" ", "")
        inputs, arrow, output = text.partition("->")
        terms = inputs.split(",")
        if not arrow or not all(_TERM.match(t) for t in [*terms, output]) or len(terms) > 2:
            raise ValueError(f"expected one or two input terms of letters and an output, like 'ij,jk->ik', found {equation!r}")
        for term in [*terms, output]:
            if len(set(term)) != len(term):
                raise ValueError(f"the term {term!r} repeats an index (diagonals are not supported)")
        missing = set(output) - set("".join(terms))
        if missing:
            raise ValueError(f"the output uses {sorted(missing)}, which no input has")
        return text

    def label_sizes(self, *inputs: Shape) -> tuple[dict[str, Value], list[str], str]:
        """Each label's size (checked across inputs), the input terms and the output term."""
        terms, output = self.equation.split("->")
        terms = terms.split(",")
        if len(terms) != len(inputs):
            raise LayerError(f"the equation has {len(terms)} input term(s), but {len(inputs)} input(s) are given")
        sizes: dict[str, Value] = {}
        for term, shape in zip(terms, inputs):
            if len(term) != len(shape):
                raise LayerError(f"the term {term!r} has {len(term)} indices for an input {format_shape(shape)}")
            for letter, size in zip(term, shape):
                if letter in sizes and not definitely_equal(sizes[letter], size):
                    raise LayerError(f"index {letter!r} is {sizes[letter]} in one input and {size} in another")
                sizes.setdefault(letter, size)
        return sizes, terms, output

    def output_shape(self, *inputs: Shape) -> Shape:
        sizes, _, output = self.label_sizes(*inputs)
        return tuple(sizes[letter] for letter in output)

    def macs(self, *inputs: Shape, out: Shape) -> Value:
        sizes, terms, _ = self.label_sizes(*inputs)
        return product(sizes.values()) if len(terms) == 2 else 0

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        return product(inputs[0]) - product(out) if len(inputs) == 1 else 0

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        return tuple(Saved(input=i) for i in range(len(inputs))) if len(inputs) == 2 else ()
