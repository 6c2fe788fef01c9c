"""Add, Mul, Pow: broadcasting, numbers as operands and their costs, against independent rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError, SpecError
from archspec.memory import memory
from tests.helpers import analyze_one, analyze_over, spec


def broadcast_by_enumeration(a, b):
    """The result shape from indexing: an output index must map to a valid index of each input."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        candidates = [n for n in range(1, max(x, y) + 1) if all(s in (1, n) for s in (x, y))]
        if not candidates or max(x, y) not in candidates:
            return None
        out.append(max(x, y))
    return tuple(out)


@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
    st.sampled_from(["Add", "Mul"]),
)
def test_add_and_mul_broadcast_like_pytorch(a, b, kind):
    expected = broadcast_by_enumeration(a, b)
    if expected is None:
        with pytest.raises(ShapeError, match="cannot broadcast"):
            analyze_over([a, b], {"type": kind})
        return
    row = analyze_over([a, b], {"type": kind})
    assert row.output_shape == expected
    elements = 1
    for d in expected:
        elements *= d
    assert (row.params, row.macs, row.flops) == (0, 0, elements)


def test_three_way_add_costs_two_ops_per_element():
    row = analyze_over([[2, 3], [2, 3], [1, 3]], {"type": "Add"})
    assert row.flops == 2 * 6


@pytest.mark.parametrize("kind", ["Add", "Mul"])
def test_a_number_operand_costs_one_op_per_element_and_saves_no_tensor(kind):
    row = analyze_one([2, 3, 5], {"type": kind, "other": 0.5})
    assert (row.output_shape, row.params, row.macs, row.flops) == ((2, 3, 5), 0, 0, 30)
    report = archspec.analyze(spec([2, 3, 5], [{"type": kind, "other": 0.5}]))
    assert memory(report).totals["saved_activations"] == 0  # x * 0.5 keeps only the number


def test_a_product_of_tensors_saves_each_factor_once():
    report = archspec.analyze(
        {"inputs": {"x": {"shape": [4, 8]}, "y": {"shape": [8]}}, "layers": [{"type": "Mul", "from": ["x", "y"]}, {"name": "square", "type": "Mul", "from": ["x", "x"]}]}
    )
    # x (32 elements) and y (8); the square saves x again, the same storage
    assert memory(report).totals["saved_activations"] == 4 * (32 + 8)


def test_a_number_operand_with_two_tensors_is_an_error_that_says_why():
    layers = [{"type": "Mul", "other": 0.5, "from": ["a", "b"]}]
    with pytest.raises(SpecError, match=r"Mul takes 1 input\(s\) with the arguments given, found 2 \(a, b\)"):
        archspec.analyze({"inputs": {"a": {"shape": [2]}, "b": {"shape": [2]}}, "layers": layers})


def multiplications_of_square_and_multiply(exponent):
    """Run square-and-multiply over the bits of `exponent` and count the multiplications."""
    count, started = 0, False
    for bit in bin(exponent)[2:]:
        if started:
            count += 1  # square the partial power
        if bit == "1":
            count += started  # multiply by x (the leading bit only starts the power)
            started = True
    return count


@given(st.integers(1, 200), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_pow_by_an_integer_counts_the_multiplications_of_square_and_multiply(exponent, shape):
    row = analyze_one(shape, {"type": "Pow", "exponent": exponent})
    numel = 1
    for d in shape:
        numel *= d
    assert row.output_shape == tuple(shape)
    assert row.flops == numel * multiplications_of_square_and_multiply(exponent)


@pytest.mark.parametrize("exponent", [0.5, -1, -2.0, 0, 1.5])
def test_pow_by_any_other_number_is_one_call_per_element(exponent):
    assert analyze_one([3, 4], {"type": "Pow", "exponent": exponent}).flops == 12


def test_pow_saves_its_input():
    report = archspec.analyze(spec([3, 4], [{"type": "Pow", "exponent": 3}]))
    assert memory(report).totals["saved_activations"] == 4 * 12


def test_the_op_level_tanh_gelu_costs_what_gelu_tanh_costs():
    """HF's NewGELUActivation written as eight ops totals the GELU(approximate='tanh') count."""
    ops = [
        {"name": "cube", "type": "Pow", "exponent": 3},
        {"name": "scaled", "type": "Mul", "other": 0.044715},
        {"name": "inner", "type": "Add", "from": ["x", "scaled"]},
        {"type": "Mul", "other": 0.7978845608028654},
        {"type": "Tanh"},
        {"name": "one_plus", "type": "Add", "other": 1.0},
        {"name": "half", "type": "Mul", "other": 0.5, "from": "x"},
        {"type": "Mul", "from": ["half", "one_plus"]},
    ]
    by_ops = archspec.analyze(spec([2, 16], ops)).totals["flops"]
    assert by_ops == analyze_one([2, 16], {"type": "GELU", "approximate": "tanh"}).flops
