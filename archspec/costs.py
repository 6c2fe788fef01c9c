"""The per-element FLOP costs of everything that is not a multiply-accumulate.

One table, used by the layer rules and printed in docs/counting.md. Convention: each
elementary floating-point operation on one element counts 1 — an add, a multiply, a
divide, a comparison (max/min/select), and one call of exp, tanh or erf. Negation and
multiplication by a compile-time constant folded into another op are not free: they
are listed where a kernel performs them. FLOPs describe one inference forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ElementCost:
    flops: int
    operations: str


PER_ELEMENT_FLOPS: dict[str, ElementCost] = {
    "bias": ElementCost(1, "one add per output element"),
    "add": ElementCost(1, "one add per output element for each input after the first"),
    "mul": ElementCost(1, "one multiply per output element for each input after the first"),
    "ReLU": ElementCost(1, "max(x, 0)"),
    "ReLU6": ElementCost(2, "min(max(x, 0), 6)"),
    "LeakyReLU": ElementCost(2, "compare, multiply by the slope"),
    "Sigmoid": ElementCost(3, "exp(-x), add 1, reciprocal"),
    "Tanh": ElementCost(1, "tanh"),
    "GELU": ElementCost(5, "x/sqrt(2), erf, add 1, times x, times 1/2"),
    "GELU-tanh": ElementCost(
        9, "x*x*x (2), times 0.044715, add x, times sqrt(2/pi), tanh, add 1, times x, times 1/2"
    ),
    "SiLU": ElementCost(4, "sigmoid (3), times x"),
    "Hardswish": ElementCost(5, "add 3, clamp to [0, 6] (2), times x, divide by 6"),
    "Hardsigmoid": ElementCost(4, "add 3, clamp to [0, 6] (2), divide by 6"),
    "Exp": ElementCost(1, "exp"),
    "Log": ElementCost(1, "log"),
    "Softplus": ElementCost(4, "compare with the threshold, exp, add 1, log"),
    "Sqrt": ElementCost(1, "sqrt"),
    "Rsqrt": ElementCost(1, "rsqrt (one call, as exp)"),
    "Abs": ElementCost(1, "abs"),
    "Neg": ElementCost(1, "negate"),
    "Sin": ElementCost(1, "sin"),
    "Cos": ElementCost(1, "cos"),
    "Erf": ElementCost(1, "erf"),
    "Clamp": ElementCost(1, "one comparison per bound given (min, max: 2)"),
    "select": ElementCost(1, "choose one of two values by a mask (where, masked_fill)"),
    "LayerNorm": ElementCost(
        5, "sum for the mean, subtract it, square, sum the squares, times 1/std (plus 4 per row and the affine ops)"
    ),
    "BatchNorm": ElementCost(
        2, "x*scale + shift, with per-channel scale and shift folded from the running statistics"
    ),
}


def flops_per_element(key: str) -> int:
    """The FLOPs one element costs for the operation named `key` in PER_ELEMENT_FLOPS."""
    return PER_ELEMENT_FLOPS[key].flops
