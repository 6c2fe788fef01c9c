"""Elementwise math functions: exp, log, softplus, sqrt, rsqrt, abs, neg, sin, cos, erf, clamp, where, masked_fill.

Each is shape-preserving, with no params and no MACs; FLOPs = numel * its per-element
cost (archspec.costs). What each keeps for backward follows PyTorch's derivative formulas
(tools/autograd/derivatives.yaml): the output for exp, sqrt and rsqrt, nothing for neg,
the mask for where and masked_fill, the input for the rest.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from archspec.costs import flops_per_element
from archspec.dims import Value, product
from archspec.layers import register
from archspec.layers.activation import _Elementwise
from archspec.layers.base import Layer, Saved, Shape, broadcast_shapes, real


class _Function(_Elementwise):
    default_call = "function"
    saves_nothing: ClassVar[bool] = False

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return () if self.saves_nothing else super().saved_for_backward(x, out)


def _function(name: str, doc: str, saves_output: bool = False, saves_nothing: bool = False) -> type[Layer]:
    attributes = {
        "__doc__": doc,
        "__module__": __name__,
        "__annotations__": {"type": Literal[name]},
        "cost_key": name,
        "saves_output": saves_output,
        "saves_nothing": saves_nothing,
    }
    return register(type(name, (_Function,), attributes))


Exp = _function("Exp", "exp(x), elementwise (torch.exp).", saves_output=True)
Log = _function("Log", "log(x), elementwise (torch.log).")
Sqrt = _function("Sqrt", "sqrt(x), elementwise (torch.sqrt).", saves_output=True)
Rsqrt = _function("Rsqrt", "1 / sqrt(x), elementwise (torch.rsqrt).", saves_output=True)
Abs = _function("Abs", "|x|, elementwise (torch.abs).")
Neg = _function("Neg", "-x, elementwise (torch.neg).", saves_nothing=True)
Sin = _function("Sin", "sin(x), elementwise (torch.sin).")
Cos = _function("Cos", "cos(x), elementwise (torch.cos).")
Erf = _function("Erf", "erf(x), elementwise (torch.erf).")


@register
class Softplus(_Elementwise):
    """log(1 + exp(beta * x)) / beta, linear above the threshold (torch.nn.Softplus).
    FLOPs = numel * 4 (+ 2 when beta != 1: the scaling and unscaling)."""

    type: Literal["Softplus"]
    beta: real() = 1.0
    threshold: real() = 20.0
    cost_key = "Softplus"

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * (flops_per_element("Softplus") + (2 if self.beta != 1 else 0))


@register
class Clamp(_Elementwise):
    """min(max(x, min), max), elementwise (torch.clamp); FLOPs = numel per bound given."""

    type: Literal["Clamp"]
    default_call = "function"
    min: real() | None = None
    max: real() | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> "Clamp":
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self

    def other_flops(self, x: Shape, out: Shape) -> Value:
        bounds = (self.min is not None) + (self.max is not None)
        return product(out) * bounds * flops_per_element("Clamp")


@register
class Where(Layer):
    """torch.where(condition, x, y): inputs [condition, x, y], broadcast; one select per output element.
    Keeps the condition for backward."""

    type: Literal["Where"]
    default_call = "function"
    arity: ClassVar[tuple[int, int | None]] = (3, 3)

    def output_shape(self, condition: Shape, x: Shape, y: Shape) -> Shape:
        return broadcast_shapes(condition, x, y)

    def other_flops(self, condition: Shape, x: Shape, y: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("select")

    def saved_for_backward(self, condition: Shape, x: Shape, y: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=0),)


@register
class MaskedFill(Layer):
    """x.masked_fill(mask, value): inputs [x, mask], the mask broadcast to x; one select per element.
    Keeps the mask for backward."""

    type: Literal["MaskedFill"]
    default_call = "function"
    value: real() = Field(0.0, description="the value written where the mask is true (e.g. -inf)")
    arity: ClassVar[tuple[int, int | None]] = (2, 2)

    def output_shape(self, x: Shape, mask: Shape) -> Shape:
        broadcast_shapes(x, mask)
        return x

    def other_flops(self, x: Shape, mask: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("select")

    def saved_for_backward(self, x: Shape, mask: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(input=1),)
