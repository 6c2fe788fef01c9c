"""Activations and softmax: elementwise layers whose cost is a per-element FLOP count."""

from __future__ import annotations

from typing import ClassVar, Literal

from archspec.costs import flops_per_element
from archspec.dims import Value, product
from archspec.layers import register
from archspec.layers.base import (
    SAVES_INPUT,
    SAVES_OUTPUT,
    Layer,
    Saved,
    Shape,
    TensorParallel,
    normalize_dim,
    real,
)


class _Elementwise(Layer):
    """Shape-preserving, no params, no MACs; other FLOPs = numel * the per-element cost."""

    cost_key: ClassVar[str] = ""
    # What the derivative needs: the output (relu, sigmoid, tanh) or the input (the rest).
    saves_output: ClassVar[bool] = False

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_OUTPUT if self.saves_output else SAVES_INPUT

    def output_shape(self, x: Shape) -> Shape:
        return x

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element(self.cost_key)

    def tensor_parallel(self, tp, split, x):
        """elementwise: runs on a split tensor as it is."""
        return TensorParallel("elementwise", 0)


@register
class ReLU(_Elementwise):
    """max(x, 0), elementwise."""

    type: Literal["ReLU"]
    inplace: bool = False
    cost_key = "ReLU"
    saves_output = True


@register
class ReLU6(_Elementwise):
    """min(max(x, 0), 6), elementwise."""

    type: Literal["ReLU6"]
    inplace: bool = False
    cost_key = "ReLU6"


@register
class LeakyReLU(_Elementwise):
    """x if x > 0 else negative_slope * x, elementwise."""

    type: Literal["LeakyReLU"]
    negative_slope: real() = 0.01
    inplace: bool = False
    cost_key = "LeakyReLU"


@register
class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)), elementwise."""

    type: Literal["Sigmoid"]
    cost_key = "Sigmoid"
    saves_output = True


@register
class Tanh(_Elementwise):
    """tanh(x), elementwise."""

    type: Literal["Tanh"]
    cost_key = "Tanh"
    saves_output = True


@register
class GELU(_Elementwise):
    """x * Phi(x) (erf form), or its tanh approximation with approximate='tanh'.

    FLOPs = numel * 5 (erf form) or numel * 9 (tanh form); see the per-element table.
    """

    type: Literal["GELU"]
    approximate: Literal["none", "tanh"] = "none"

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("GELU-tanh" if self.approximate == "tanh" else "GELU")


@register
class SiLU(_Elementwise):
    """x * sigmoid(x), elementwise (also called swish)."""

    type: Literal["SiLU"]
    inplace: bool = False
    cost_key = "SiLU"


@register
class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6, elementwise."""

    type: Literal["Hardswish"]
    inplace: bool = False
    cost_key = "Hardswish"


@register
class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6, elementwise."""

    type: Literal["Hardsigmoid"]
    inplace: bool = False
    cost_key = "Hardsigmoid"


@register
class Softmax(Layer):
    """exp(x - max) / sum(exp(x - max)) along `dim`; shape-preserving, no params.

    - other FLOPs = rows * (5F - 2), F = size of `dim`, rows = numel / F: per row,
      F - 1 comparisons for the max, F subtractions, F exps, F - 1 adds, F divisions.
    - dim=None follows PyTorch's legacy rule: dim 0 for 0-, 1- and 3-D inputs, else 1.
    """

    type: Literal["Softmax"]
    dim: int | None = None

    def dim_index(self, x: Shape) -> int:
        """The non-negative index of the softmax dim for this input."""
        if self.dim is None:
            return 0 if len(x) in (0, 1, 3) else 1
        return normalize_dim(self.dim, len(x))

    def output_shape(self, x: Shape) -> Shape:
        self.dim_index(x)
        return x

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_OUTPUT

    def other_flops(self, x: Shape, out: Shape) -> Value:
        features = x[self.dim_index(x)]
        rows = product(x[: self.dim_index(x)] + x[self.dim_index(x) + 1 :])
        return rows * (5 * features - 2)
