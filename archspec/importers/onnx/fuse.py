"""Chains of layers that exporters write out, put back as the one layer a person writes.

The MACs do not change, nor (but for LayerNorm) the FLOPs: x @ W + b is a Linear with bias
(the same MACs and adds); the erf GELU x * (erf(x / sqrt 2) + 1) * 0.5 is GELU (5 FLOPs per
element either way) and the tanh one GELU(approximate=tanh) (9); x * sigmoid(x) is SiLU
(3 + 1); the LayerNorm exporters write out before opset 17 (mean, subtract, square, mean,
add eps, sqrt, divide, * weight + bias: 7 FLOPs per element and 2 per row) is LayerNorm
(counted as LayerNorm is: 7 per element and 4 per row). A chain is fused only when its
intermediate outputs have no other reader; the last entry of the chain becomes the fused
layer, the others go.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from archspec.importers.onnx.emit import Entry, Ref
from archspec.importers.onnx.values import expression


def fuse(entries: list[Entry], outputs: list[Ref]) -> list[Entry]:
    """The entries with each fusable chain replaced by one layer. Each rule looks back from the
    chain's last entry, walking the entries from the end so that the longest chain wins (a
    LayerNorm with its weight and bias, not the bare normalization)."""
    for rule in (_linear_bias, _layer_norm, _gelu, _gelu_tanh, _silu):
        uses = _uses(entries, outputs)
        removed: set[int] = set()
        for entry in reversed(entries):
            if id(entry) not in removed:
                removed.update(id(e) for e in rule(entry, uses))
        entries = [e for e in entries if id(e) not in removed]
    return entries


def _key(ref: Ref) -> tuple:
    return (ref.source if isinstance(ref.source, str) else id(ref.source), ref.index)


def _uses(entries: list[Entry], outputs: list[Ref]) -> Counter:
    uses: Counter = Counter(_key(ref) for entry in entries for ref in entry.inputs)
    uses.update(_key(ref) for ref in outputs)
    return uses


def _producer(ref: Ref, uses: Counter, layer_type: str) -> Entry | None:
    """The entry behind `ref` when it is a layer of `layer_type` read only there."""
    entry = ref.source
    if isinstance(entry, Entry) and ref.index is None and entry.layer["type"] == layer_type and uses[_key(ref)] == 1:
        return entry
    return None


def _same(a: Ref, b: Ref) -> bool:
    return a.source is b.source and a.index == b.index


def _take_over(entry: Entry, layer: dict[str, Any], inputs: list[Ref], origin: Entry | None = None) -> None:
    entry.layer, entry.inputs = layer, inputs
    if origin is not None:
        entry.scope, entry.part, entry.node = origin.scope, origin.part, origin.node


def _linear_bias(add: Entry, uses: Counter) -> list[Entry]:
    """Linear(bias=false) + a Parameter of its out_features: Linear with bias."""
    if add.layer != {"type": "Add"} or len(add.inputs) != 2:
        return []
    for first, second in (add.inputs, reversed(add.inputs)):
        linear = _producer(first, uses, "Linear")
        bias = _producer(second, uses, "Parameter")
        if linear is None or bias is None or linear.layer.get("bias") is not False:
            continue
        shape = bias.layer["shape"]
        if str(shape[-1]) == str(linear.layer["out_features"]) and all(d == 1 for d in shape[:-1]):
            layer = {k: v for k, v in linear.layer.items() if k != "bias"}
            _take_over(add, layer, linear.inputs, linear)
            return [linear, bias]
    return []


def _number(entry: Entry | None, layer_type: str, value: float) -> bool:
    other = entry.layer.get("other") if entry is not None else None
    return entry is not None and entry.layer["type"] == layer_type and isinstance(other, (int, float)) \
        and math.isclose(other, value, rel_tol=1e-6)


def _erf_branch(ref: Ref, uses: Counter) -> tuple[Ref, list[Entry]] | None:
    """erf(x * 1/sqrt(2)) + 1 behind `ref`: (x, its three entries)."""
    one = _producer(ref, uses, "Add")
    erf = _producer(one.inputs[0], uses, "Erf") if _number(one, "Add", 1) else None
    scale = _producer(erf.inputs[0], uses, "Mul") if erf is not None else None
    if not _number(scale, "Mul", 1 / math.sqrt(2)):
        return None
    return scale.inputs[0], [scale, erf, one]


def _gelu(last: Entry, uses: Counter) -> list[Entry]:
    """x * (erf(x / sqrt 2) + 1) * 0.5, or (x * 0.5) * (erf(x / sqrt 2) + 1): GELU."""
    if last.layer.get("type") != "Mul":
        return []
    if _number(last, "Mul", 0.5):
        product = _producer(last.inputs[0], uses, "Mul")
        if product is None or len(product.inputs) != 2:
            return []
        for x, other in (product.inputs, tuple(reversed(product.inputs))):
            branch = _erf_branch(other, uses)
            if branch is not None and _same(branch[0], x):
                _take_over(last, {"type": "GELU"}, [x], branch[1][1])
                return [*branch[1], product]
        return []
    if len(last.inputs) != 2:
        return []
    for halved, other in (last.inputs, tuple(reversed(last.inputs))):
        half = _producer(halved, uses, "Mul")
        branch = _erf_branch(other, uses)
        if _number(half, "Mul", 0.5) and branch is not None and _same(half.inputs[0], branch[0]):
            _take_over(last, {"type": "GELU"}, [branch[0]], branch[1][1])
            return [*branch[1], half]
    return []


def _from_op(entry: Entry | None, op: str) -> bool:
    return entry is not None and entry.node is not None and entry.node.op == op


def _normalization(core: Entry, uses: Counter) -> tuple[Ref, list[int], float, list[Entry]] | None:
    """(x - mean(x)) / sqrt(mean((x - mean(x)) ** 2) + eps) ending at `core` (the Div, written as
    Mul): x, the normalized dims, eps and the chain's entries."""
    if core.layer != {"type": "Mul"} or not _from_op(core, "Div") or len(core.inputs) != 2:
        return None
    centered, root = core.inputs
    sqrt = _producer(root, uses, "Sqrt")
    plus = _producer(sqrt.inputs[0], uses, "Add") if sqrt else None
    eps = plus.layer.get("other") if plus else None
    variance = _producer(plus.inputs[0], uses, "Mean") if isinstance(eps, (int, float)) else None
    square = _producer(variance.inputs[0], uses, "Pow") if variance and variance.layer.get("keepdim") else None
    if square is None or square.layer.get("exponent") != 2 or not _same(square.inputs[0], centered):
        return None
    sub = centered.source
    if not (isinstance(sub, Entry) and _from_op(sub, "Sub") and uses[_key(centered)] == 2 and len(sub.inputs) == 2):
        return None
    x, mean_ref = sub.inputs
    mean = _producer(mean_ref, uses, "Mean")
    if mean is None or not _same(mean.inputs[0], x) or mean.layer != variance.layer or mean.shape is None:
        return None
    rank = len(mean.shape)
    dims = sorted(d % rank for d in (mean.layer["dim"] if isinstance(mean.layer["dim"], list) else [mean.layer["dim"]]))
    if dims != list(range(rank - len(dims), rank)):
        return None
    return x, dims, float(eps), [mean, sub, square, variance, plus, sqrt, core]


def _layer_norm(last: Entry, uses: Counter) -> list[Entry]:
    """The LayerNorm exporters write out before opset 17: the normalization, then * weight + bias."""
    steps: list[Entry] = []
    entry = last
    for layer_type in ("Add", "Mul"):  # peel bias, then weight
        if entry.layer == {"type": layer_type} and len(entry.inputs) == 2:
            for inner, outer in (entry.inputs, tuple(reversed(entry.inputs))):
                param = _producer(outer, uses, "Parameter")
                source = inner.source if isinstance(inner.source, Entry) and uses[_key(inner)] == 1 else None
                if param is not None and source is not None:
                    steps.append((layer_type, param, entry))
                    entry = source
                    break
    if len(steps) == 1 and steps[0][0] == "Add":  # a bias without a weight is no LayerNorm
        return []
    found = _normalization(entry, uses)
    if found is None:
        return []
    x, dims, eps, chain = found
    normalized = [expression(d) for d in chain[1].shape[-len(dims):]]  # chain[1]: x - mean, x's shape
    params = {kind: param for kind, param, _ in steps}
    if any(list(map(str, param.layer["shape"])) != list(map(str, normalized)) for param in params.values()):
        return []  # a weight of another shape (broadcast over more dims) is not LayerNorm's
    layer: dict[str, Any] = {"type": "LayerNorm"}
    if len(dims) > 1:
        layer["normalized_shape"] = normalized
    if not math.isclose(eps, 1e-5, rel_tol=1e-6):
        layer["eps"] = eps
    if "Mul" not in params:
        layer["elementwise_affine"] = False
    elif "Add" not in params:
        layer["bias"] = False
    _take_over(last, layer, [x], chain[0])
    return [e for e in chain if e is not last] + [e for _, param, op in steps for e in (param, op) if e is not last]


def _cube(ref: Ref, uses: Counter) -> tuple[Ref, list[Entry]] | None:
    """x ** 3 behind `ref`, as Pow 3 or x * (x * x): (x, its entries)."""
    power = _producer(ref, uses, "Pow")
    if power is not None and power.layer.get("exponent") == 3:
        return power.inputs[0], [power]
    outer = _producer(ref, uses, "Mul")
    if outer is None or len(outer.inputs) != 2:
        return None
    for x, inner_ref in (outer.inputs, tuple(reversed(outer.inputs))):
        inner = _producer(inner_ref, uses, "Mul")
        if inner is not None and len(inner.inputs) == 2 and all(_same(r, x) for r in inner.inputs):
            return x, [inner, outer]
    return None


def _tanh_branch(ref: Ref, uses: Counter) -> tuple[Ref, list[Entry]] | None:
    """tanh(sqrt(2/pi) * (x + 0.044715 * x ** 3)) + 1 behind `ref`: (x, its entries)."""
    one = _producer(ref, uses, "Add")
    tanh = _producer(one.inputs[0], uses, "Tanh") if _number(one, "Add", 1) else None
    scale = _producer(tanh.inputs[0], uses, "Mul") if tanh is not None else None
    inner = _producer(scale.inputs[0], uses, "Add") if _number(scale, "Mul", math.sqrt(2 / math.pi)) else None
    if inner is None or len(inner.inputs) != 2:
        return None
    for x, term in (inner.inputs, tuple(reversed(inner.inputs))):
        times = _producer(term, uses, "Mul")
        cube = _cube(times.inputs[0], uses) if _number(times, "Mul", 0.044715) else None
        if cube is not None and _same(cube[0], x):
            return x, [*cube[1], times, inner, scale, tanh, one]
    return None


def _gelu_tanh(last: Entry, uses: Counter) -> list[Entry]:
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))): GELU(approximate=tanh), 9 FLOPs either way."""
    if last.layer.get("type") != "Mul":
        return []
    if _number(last, "Mul", 0.5):
        product = _producer(last.inputs[0], uses, "Mul")
        pairs = [product.inputs, tuple(reversed(product.inputs))] if product is not None and len(product.inputs) == 2 else []
        for x, other in pairs:
            branch = _tanh_branch(other, uses)
            if branch is not None and _same(branch[0], x):
                _take_over(last, {"type": "GELU", "approximate": "tanh"}, [x], branch[1][-2])
                return [*branch[1], product]
        return []
    for halved, other in (last.inputs, tuple(reversed(last.inputs))) if len(last.inputs) == 2 else ():
        half = _producer(halved, uses, "Mul")
        branch = _tanh_branch(other, uses)
        if _number(half, "Mul", 0.5) and branch is not None and _same(half.inputs[0], branch[0]):
            _take_over(last, {"type": "GELU", "approximate": "tanh"}, [branch[0]], branch[1][-2])
            return [*branch[1], half]
    return []


def _silu(mul: Entry, uses: Counter) -> list[Entry]:
    """x * sigmoid(x): SiLU."""
    if mul.layer != {"type": "Mul"} or len(mul.inputs) != 2:
        return []
    for x, gate in (mul.inputs, tuple(reversed(mul.inputs))):
        sigmoid = _producer(gate, uses, "Sigmoid")
        if sigmoid is not None and _same(sigmoid.inputs[0], x):
            _take_over(mul, {"type": "SiLU"}, [x], sigmoid)
            return [sigmoid]
    return []
