"""Elementwise math ops (archspec/layers/math_ops.py): FLOPs per element and what backward keeps.

Expected values are literals: the operations each function performs, and what PyTorch's
derivative formulas (tools/autograd/derivatives.yaml) keep for backward.
"""

import pytest

import archspec
from archspec.memory import MemoryOptions, memory
from tests.helpers import analyze_one, analyze_over

# op, FLOPs per element, what backward keeps: "input", "output" or None
OPS = [
    ("Exp", 1, "output"),  # exp: grad * result
    ("Log", 1, "input"),  # log: grad / self
    ("Sqrt", 1, "output"),  # sqrt: grad / (2 * result)
    ("Rsqrt", 1, "output"),  # rsqrt: -0.5 * grad * result**3
    ("Abs", 1, "input"),  # abs: grad * self.sgn()
    ("Neg", 1, None),  # neg: -grad
    ("Sin", 1, "input"),  # sin: grad * self.cos()
    ("Cos", 1, "input"),  # cos: grad * -self.sin()
    ("Erf", 1, "input"),  # erf: 2/sqrt(pi) * exp(-self**2) * grad
    ("Softplus", 4, "input"),  # compare, exp, add 1, log; softplus_backward(grad, self, ...)
]


def saved_bytes(layer, shape):
    spec = {"inputs": {"x": {"shape": shape, "requires_grad": True}}, "layers": [{"type": "Neg"}, layer]}  # Neg keeps nothing itself
    report = archspec.analyze(spec)
    return memory(report, MemoryOptions()).layers[1]["saved_activations"]


@pytest.mark.parametrize("op, flops, keeps", OPS)
def test_flops_and_saved_tensors(op, flops, keeps):
    row = analyze_one([3, 5], {"type": op})
    assert (row.macs, row.flops, row.output_shape) == (0, 15 * flops, (3, 5))
    kept = saved_bytes({"type": op}, [3, 5])
    assert kept == (0 if keeps is None else 15 * 4)


def test_clamp_costs_one_comparison_per_bound():
    assert analyze_one([4], {"type": "Clamp", "min": 0}).flops == 4
    assert analyze_one([4], {"type": "Clamp", "min": 0, "max": 6}).flops == 8
    with pytest.raises(archspec.SpecError, match="give min, max or both"):
        analyze_one([4], {"type": "Clamp"})


def test_where_and_masked_fill_select_per_element_and_keep_the_mask():
    where = analyze_over([[2, 1, 5], [2, 4, 5], [1, 4, 5]], {"type": "Where"})
    assert (where.output_shape, where.flops) == ((2, 4, 5), 40)
    fill = analyze_over([[2, 4, 5], [4, 5]], {"type": "MaskedFill", "value": -1e9})
    assert (fill.output_shape, fill.flops) == ((2, 4, 5), 40)
