"""Counts against reference computations the tests run (tests/oracles.py): each layer's forward
written in NumPy from its PyTorch definition, every operation counted. Nothing here reads
archspec's cost tables; a changed cost, a dropped term or a wrong pair count fails."""

import math

import numpy as np
import pytest

from tests.helpers import analyze_one
from tests.oracles import Counter, T, erf, maximum, minimum, sigmoid, softmax, tanh

SHAPE = (2, 3, 5)
RNG = np.random.default_rng(0)


def _per_element(forward) -> float:
    counter = Counter()
    x = T(RNG.standard_normal(SHAPE), counter)
    forward(x)
    return counter.flops / math.prod(SHAPE)


# (layer, reference forward from PyTorch's definition)
ACTIVATIONS = [
    ({"type": "ReLU"}, lambda x: maximum(x, 0.0)),
    ({"type": "ReLU6"}, lambda x: minimum(maximum(x, 0.0), 6.0)),
    ({"type": "Sigmoid"}, sigmoid),
    ({"type": "Tanh"}, tanh),
    ({"type": "SiLU"}, lambda x: x * sigmoid(x)),
    ({"type": "GELU"}, lambda x: x * (erf(x / math.sqrt(2.0)) + 1.0) * 0.5),
    ({"type": "GELU", "approximate": "tanh"},
     lambda x: x * (tanh((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)) + 1.0) * 0.5),
    ({"type": "Hardswish"}, lambda x: x * minimum(maximum(x + 3.0, 0.0), 6.0) / 6.0),
    ({"type": "Hardsigmoid"}, lambda x: minimum(maximum(x + 3.0, 0.0), 6.0) / 6.0),
    ({"type": "LeakyReLU"}, lambda x: _leaky(x)),
]


def _leaky(x: T) -> T:
    """where(x > 0, x, slope * x): the comparison that selects, and the multiply."""
    x._wrap(x.a > 0, x.a.size)
    return x * 0.01


@pytest.mark.parametrize("layer, forward", ACTIVATIONS, ids=[str(a[0]) for a in ACTIVATIONS])
def test_activation_flops_equal_the_operations_of_its_definition(layer, forward):
    row = analyze_one(list(SHAPE), layer)
    assert row.flops / math.prod(SHAPE) == _per_element(forward)


def _attention(n, length, dim, heads, causal_pairs=False):
    """torch's scaled_dot_product_attention over projections with biases, counted."""
    counter = Counter()
    x = T(RNG.standard_normal((n, length, dim)), counter)
    head = dim // heads
    w = [T(RNG.standard_normal((dim, dim)), counter) for _ in range(4)]
    q, k, v = (x @ w[i] + np.zeros(dim) for i in range(3))  # + bias: one add per element
    outputs = []
    for b in range(n):
        for h in range(heads):
            cols = slice(h * head, (h + 1) * head)
            qh, kh, vh = q[b][:, cols], k[b][:, cols], v[b][:, cols]
            if not causal_pairs:
                scores = (qh @ kh.T) * (1 / math.sqrt(head))
                outputs.append(softmax(scores) @ vh)
                continue
            for i in range(length):  # only the visible keys j <= i are computed
                s = (qh[i:i + 1] @ kh[: i + 1].T) * (1 / math.sqrt(head))
                outputs.append(softmax(s) @ vh[: i + 1])
    attended = T(RNG.standard_normal((n, length, dim)), counter)  # the heads concatenated: a view
    attended @ w[3] + np.zeros(dim)
    return counter


@pytest.mark.parametrize("causal_pairs", [False, True])
def test_attention_macs_and_flops_equal_a_counted_forward(causal_pairs):
    n, length, dim, heads = 2, 6, 8, 2
    counted = _attention(n, length, dim, heads, causal_pairs)
    layer = {"type": "Attention", "num_heads": heads, "causal": causal_pairs, "causal_macs": causal_pairs}
    row = analyze_one([n, length, dim], layer)
    assert (row.macs, row.flops - 2 * row.macs) == (counted.macs, counted.flops)


def test_causal_masking_alone_does_not_halve_the_count():
    dense = analyze_one([2, 6, 8], {"type": "Attention", "num_heads": 2})
    masked = analyze_one([2, 6, 8], {"type": "Attention", "num_heads": 2, "causal": True})
    assert masked.macs == dense.macs  # the kernel computes every score and masks; causal_macs counts the kept ones


def _lstm(n, steps, features, hidden, proj=0):
    """torch.nn.LSTM's cell at every step (gates i, f, g, o; biases b_ih and b_hh), counted."""
    counter = Counter()
    out = proj or hidden
    x = T(RNG.standard_normal((steps, n, features)), counter)
    w_ih = T(RNG.standard_normal((features, 4 * hidden)), counter)
    w_hh = T(RNG.standard_normal((out, 4 * hidden)), counter)
    w_hr = T(RNG.standard_normal((hidden, proj)), counter) if proj else None
    h = T(np.zeros((n, out)), counter)
    c = T(np.zeros((n, hidden)), counter)
    for t in range(steps):
        gates = x[t] @ w_ih + h @ w_hh + np.zeros(4 * hidden) + np.zeros(4 * hidden)
        i, f = sigmoid(gates[:, :hidden]), sigmoid(gates[:, hidden:2 * hidden])
        g, o = tanh(gates[:, 2 * hidden:3 * hidden]), sigmoid(gates[:, 3 * hidden:])
        c = f * c + i * g
        h = o * tanh(c)
        if w_hr is not None:
            h = h @ w_hr
    return counter


@pytest.mark.parametrize("proj", [0, 3])
def test_lstm_macs_and_flops_equal_a_counted_forward(proj):
    n, steps, features, hidden = 2, 4, 5, 6
    counted = _lstm(n, steps, features, hidden, proj)
    layer = {"type": "LSTM", "hidden_size": hidden, **({"proj_size": proj} if proj else {})}
    row = analyze_one([steps, n, features], layer)
    assert (row.macs, row.flops - 2 * row.macs) == (counted.macs, counted.flops)


def test_optimizer_states_are_the_tensors_torch_keeps():
    """torch.optim keeps per parameter: Adam/AdamW exp_avg and exp_avg_sq, SGD with momentum
    momentum_buffer, RMSprop square_avg, Adagrad sum, SGD nothing (torch/optim/*.py)."""
    import archspec
    from archspec.memory import MemoryOptions, memory
    from tests.conftest import SPECS

    report = archspec.analyze(SPECS / "alexnet.yaml")
    params = 61_100_840
    for optimizer, states in {"adam": 2, "adamw": 2, "sgd-momentum": 1, "rmsprop": 1, "adagrad": 1, "sgd": 0}.items():
        assert memory(report, MemoryOptions(optimizer=optimizer)).totals["optimizer"] == 4 * states * params, optimizer
