"""Arithmetic on tensors and numbers: Add, Mul (broadcast, or with a number), Pow."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, product
from archspec.layers import register
from archspec.layers.base import (
    SAVES_INPUT,
    Layer,
    Saved,
    Shape,
    TensorParallel,
    broadcast_shapes,
    real,
)


class _Binary(Layer):
    """Elementwise over two or more inputs, broadcast as in PyTorch, or over one input and
    the number `other` (x + other, x * other).

    - Output shape: the broadcast of the input shapes.
    - other FLOPs = (operands - 1) * numel(out), a number counting as an operand; no params, no MACs.
    """

    arity: ClassVar[tuple[int, int | None]] = (2, None)
    op_key: ClassVar[str] = ""
    other: real() | None = Field(None, description="a number as the second operand; the layer then takes one input")

    def input_count(self) -> tuple[int, int | None]:
        return (1, 1) if self.other is not None else self.arity

    def output_shape(self, *inputs: Shape) -> Shape:
        return broadcast_shapes(*inputs)

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        operands = len(inputs) + (self.other is not None)
        return (operands - 1) * product(out) * flops_per_element(self.op_key)

    def tensor_parallel(self, tp, split, *inputs):
        """elementwise: runs on split tensors as they are (mixed with a replicated one, gathers)."""
        return TensorParallel("elementwise", 0)

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        # A sum needs nothing; a product needs each tensor factor for the others' gradients
        # (times a number keeps only the number, which is no tensor storage).
        if self.op_key != "mul" or self.other is not None:
            return ()
        return tuple(Saved(input=i) for i in range(len(inputs)))


@register
class Add(_Binary):
    __doc__ = _Binary.__doc__
    type: Literal["Add"]
    default_call = "operator"
    op_key = "add"


@register
class Mul(_Binary):
    __doc__ = _Binary.__doc__
    type: Literal["Mul"]
    default_call = "operator"
    op_key = "mul"


def square_and_multiply_steps(exponent: int) -> int:
    """Multiplications that raise x to a positive integer power by repeated squaring."""
    return exponent.bit_length() - 1 + bin(exponent).count("1") - 1


@register
class Pow(Layer):
    """x ** exponent, elementwise, for a number `exponent` (torch.pow(x, exponent)).

    - other FLOPs = numel * m, m = the multiplications of square-and-multiply for a positive
      integer exponent (floor(log2 n) + popcount(n) - 1: x**2 1, x**3 2, x**4 2), else 1 (one
      pow call, as exp or tanh count 1).
    - saved for backward: the input (the derivative is exponent * x ** (exponent - 1)).
    """

    type: Literal["Pow"]
    default_call = "function"
    exponent: real()

    def output_shape(self, x: Shape) -> Shape:
        return x

    def other_flops(self, x: Shape, out: Shape) -> Value:
        whole = self.exponent == int(self.exponent) and self.exponent >= 1
        return product(out) * (square_and_multiply_steps(int(self.exponent)) if whole else 1)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def tensor_parallel(self, tp, split, x):
        """elementwise: runs on a split tensor as it is."""
        return TensorParallel("elementwise", 0)
