"""Linear: a matrix multiply over the last dimension, any number of leading dims."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, ceildiv, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    SAVES_INPUT,
    Layer,
    Saved,
    Shape,
    Size,
    TensorParallel,
    format_shape,
)


@register
class Linear(Layer):
    """y = x W^T + b over the last dim. Input (*, in_features) -> (*, out_features).

    - params = in_features * out_features + (out_features if bias)
    - MACs = prod(*) * in_features * out_features
    - other FLOPs = prod(*) * out_features bias additions (if bias)
    """

    type: Literal["Linear"]
    in_features: Size | None = Field(None, description="inferred from the input's last dim; checked when given")
    out_features: Size
    bias: bool = True
    parallel: Literal["auto", "column", "row", "replicate"] = Field(
        "auto",
        description="under tensor parallelism: column (output split), row (input split, output summed), replicate; "
        "auto: row when the input arrives split, else column (Megatron's placement)",
    )

    def output_shape(self, x: Shape) -> Shape:
        if len(x) < 1:
            raise LayerError(f"expected an input with at least 1 dim (*, in_features), got {format_shape(x)}")
        self.check_inferred("in_features", x[-1])
        return (*x[:-1], self.out_features)

    def weight_shape(self, x: Shape) -> Shape:
        return (self.out_features, x[-1])

    def param_count(self, x: Shape) -> Value:
        return x[-1] * self.out_features + (self.out_features if self.bias else 0)

    def macs(self, x: Shape, out: Shape) -> Value:
        return product(out) * x[-1]

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def tensor_parallel(self, tp: Value, split: tuple[bool, ...], x: Shape) -> TensorParallel:
        """column: weight and bias split by output features (padded to a multiple of tp); row: the
        weight split by input features, the bias on every rank."""
        mode = self.parallel if self.parallel != "auto" else ("row" if split[0] else "column")
        if mode == "column":
            return TensorParallel("column", ceildiv(self.out_features, tp) * (x[-1] + int(self.bias)))
        if mode == "row":
            return TensorParallel("row", ceildiv(x[-1], tp) * self.out_features + (self.out_features if self.bias else 0))
        return TensorParallel("replicate", self.param_count(x))

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out) * flops_per_element("bias") if self.bias else 0
