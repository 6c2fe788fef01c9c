"""An operation counter for reference implementations written in the tests: NumPy forwards of a
layer, each elementary operation counted per element, so that a test's expected MACs and FLOPs
come from running the computation, never from archspec's own cost tables.

Counting rules (docs/counting.md): one multiply-accumulate of a matrix product is a MAC; every
other elementary operation on one element is one FLOP (add, subtract, multiply, divide,
compare/max/min/select, and one call of exp, tanh, erf, sqrt); a negation inside exp(-x) is
part of that call; multiplying by 1 or adding 0 is not written in the references.
"""

from __future__ import annotations

import numpy as np


class Counter:
    """The MACs and FLOPs counted so far."""

    def __init__(self):
        self.macs = 0
        self.flops = 0


class T:
    """A NumPy array whose every operation is counted by `counter`."""

    def __init__(self, array, counter: Counter):
        self.a = np.asarray(array, dtype=np.float64)
        self.c = counter

    def _wrap(self, array, flops: int) -> "T":
        self.c.flops += flops
        return T(array, self.c)

    @staticmethod
    def _value(other):
        return other.a if isinstance(other, T) else other

    def _binary(self, other, op) -> "T":
        result = op(self.a, self._value(other))
        return self._wrap(result, int(np.size(result)))

    def __add__(self, other): return self._binary(other, np.add)
    def __radd__(self, other): return self._binary(other, np.add)
    def __sub__(self, other): return self._binary(other, np.subtract)
    def __rsub__(self, other): return self._wrap(self._value(other) - self.a, int(self.a.size))
    def __mul__(self, other): return self._binary(other, np.multiply)
    def __rmul__(self, other): return self._binary(other, np.multiply)
    def __truediv__(self, other): return self._binary(other, np.divide)
    def __rtruediv__(self, other): return self._wrap(self._value(other) / self.a, int(self.a.size))

    def __matmul__(self, other) -> "T":
        b = self._value(other)
        result = self.a @ b
        self.c.macs += int(np.size(result)) * self.a.shape[-1]  # each output: a dot product of the inner dim
        return T(result, self.c)

    @property
    def shape(self):
        return self.a.shape

    @property
    def T(self) -> "T":  # noqa: N802 - as numpy's
        return T(np.swapaxes(self.a, -1, -2), self.c)

    def __getitem__(self, index) -> "T":
        return T(self.a[index], self.c)  # a view: no operation


def exp(x: T, negated: bool = False) -> T:
    """exp(x), or exp(-x) with the negation inside the call."""
    return x._wrap(np.exp(-x.a if negated else x.a), x.a.size)


def tanh(x: T) -> T:
    return x._wrap(np.tanh(x.a), x.a.size)


def erf(x: T) -> T:
    from math import erf as scalar_erf

    return x._wrap(np.vectorize(scalar_erf)(x.a), x.a.size)


def maximum(x: T, value: float) -> T:
    return x._wrap(np.maximum(x.a, value), x.a.size)


def minimum(x: T, value: float) -> T:
    return x._wrap(np.minimum(x.a, value), x.a.size)


def row_max(x: T) -> T:
    """max over the last dim: n - 1 comparisons per row."""
    rows = x.a.size // x.a.shape[-1]
    return x._wrap(x.a.max(axis=-1, keepdims=True), rows * (x.a.shape[-1] - 1))


def row_sum(x: T) -> T:
    """sum over the last dim: n - 1 adds per row."""
    rows = x.a.size // x.a.shape[-1]
    return x._wrap(x.a.sum(axis=-1, keepdims=True), rows * (x.a.shape[-1] - 1))


def softmax(x: T) -> T:
    """PyTorch's softmax kernel: the row max, x - max, exp, the row sum, a divide."""
    shifted = x - row_max(x)
    e = exp(shifted)
    return e / row_sum(e)


def sigmoid(x: T) -> T:
    """1 / (1 + exp(-x))."""
    return 1.0 / (exp(x, negated=True) + 1.0)
