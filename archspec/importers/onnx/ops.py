"""Converters of the computing operators: convolutions, matrix products, norms, pools,
activations and arithmetic. Each takes the Builder and the node, emits the spec's layers
(archspec.layers) and defines the node's outputs with their shapes."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import sympy

from archspec.dims import floordiv
from archspec.importers.onnx.emit import Builder, Node, Ref
from archspec.importers.onnx.values import Shape, Tensor, broadcast, concrete, expression, float_text, ints, plain, same_dim

Converter = Callable[[Builder, Node], None]


# -- shapes -----------------------------------------------------------------------------------
def matmul_shape(a: Shape, b: Shape) -> Shape:
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    batch = broadcast(a2[:-2], b2[:-2]) if len(a2) > 2 or len(b2) > 2 else ()
    return (*batch, *(() if len(a) == 1 else (a2[-2],)), *(() if len(b) == 1 else (b2[-1],)))


def compact(values: list) -> Any:
    """One value for every spatial dim when they agree (kernel_size: 3), else the list."""
    values = [expression(v) for v in values]
    return values[0] if len(set(map(str, values))) == 1 else values


def window_out(size: Any, kernel: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False) -> Any:
    """A conv or pool's output size (PyTorch's rule: with ceil_mode the last window starts inside)."""
    span = size + pad - dilation * (kernel - 1) - 1
    if not ceil:
        return plain(floordiv(span, stride) + 1)
    out = plain(-floordiv(-span, stride) + 1)
    if concrete(out) and concrete(size) and (out - 1) * stride >= size + pad // 2:
        out -= 1
    return out


def explicit_pads(b: Builder, node: Node, spatial: Shape, kernel: list, strides: list, dilations: list) -> list[tuple]:
    """(begin, end) per spatial dim from pads or auto_pad (SAME_UPPER puts the odd one at the end)."""
    auto = node.attr("auto_pad", "NOTSET")
    n = len(kernel)
    if auto in ("NOTSET", ""):
        pads = node.attr("pads") or [0] * (2 * n)
        return [(pads[i], pads[i + n]) for i in range(n)]
    if auto == "VALID":
        return [(0, 0)] * n
    result = []
    for size, k, s, d in zip(spatial, kernel, strides, dilations):
        if not concrete(size):
            raise b.error(f"auto_pad {auto} needs concrete spatial sizes, found {expression(size)}")
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        result.append((small, large) if auto == "SAME_UPPER" else (large, small))
    return result


def torch_pads(pairs: list[tuple]) -> list:
    """ONNX (begin, end) per dim, first dim first, as F.pad's amounts: last dim first, trailing zeros dropped."""
    amounts = [v for begin, end in reversed(pairs) for v in (begin, end)]
    while len(amounts) > 2 and amounts[-1] == 0 and amounts[-2] == 0:
        amounts = amounts[:-2]
    return amounts


def _symmetric_padding(b: Builder, node: Node, x: str, pairs: list[tuple]) -> tuple[Any, list]:
    """The input ref and per-dim padding of a conv or pool: asymmetric pads become a Pad layer first."""
    if all(begin == end for begin, end in pairs):
        return x, [begin for begin, _ in pairs]
    if node.op != "Conv":
        raise b.error(f"pads {[p for pair in pairs for p in pair]} differ at the two ends of a dim; the spec's "
                      f"{node.op} pads both ends alike")
    pad = b.chain({"type": "Pad", "pad": torch_pads(pairs)}, x, role="pad")
    return pad, [0] * len(pairs)


def _weight(b: Builder, node: Node, name: str, what: str) -> Tensor:
    tensor = b.tensor(name)
    if tensor.stored is None or tensor.shape is None:
        raise b.error(f"its {what} ({name!r}) is computed at run time; the importer maps a {node.op} whose {what} "
                      "is stored in the model (an initializer)")
    return tensor


def _defaults(layer: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """The layer without the arguments that equal their default (what a person would leave out)."""
    return {k: v for k, v in layer.items() if k not in defaults or v != defaults[k]}


# -- convolutions -----------------------------------------------------------------------------
def conv(b: Builder, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    weight = _weight(b, node, w, "weight")
    kernel = list(node.attr("kernel_shape") or weight.shape[2:])
    n = len(kernel)
    strides, dilations = list(node.attr("strides") or [1] * n), list(node.attr("dilations") or [1] * n)
    shape = b.shape(x)
    pairs = explicit_pads(b, node, shape[2:], kernel, strides, dilations)
    source, padding = _symmetric_padding(b, node, x, pairs)
    groups = node.attr("group", 1)
    layer = _defaults({"type": f"Conv{n}d", "out_channels": weight.shape[0], "kernel_size": compact(kernel),
                       "stride": compact(strides), "padding": compact(padding), "dilation": compact(dilations),
                       "groups": groups, "bias": bool(node.input(2))}, stride=1, padding=0, dilation=1, groups=1, bias=True)
    spatial = [window_out(s, k, st, p0 + p1, d) for s, k, st, (p0, p1), d in zip(shape[2:], kernel, strides, pairs, dilations)]
    b.emit(layer, [source], [(node.outputs[0], (shape[0], weight.shape[0], *spatial))], dtype=b.tensor(x).dtype)


def conv_transpose(b: Builder, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    weight = _weight(b, node, w, "weight")
    kernel = list(node.attr("kernel_shape") or weight.shape[2:])
    n = len(kernel)
    strides, dilations = list(node.attr("strides") or [1] * n), list(node.attr("dilations") or [1] * n)
    output_padding = list(node.attr("output_padding") or [0] * n)
    shape, groups = b.shape(x), node.attr("group", 1)
    wanted = node.attr("output_shape")
    if wanted:
        totals = [st * (s - 1) + op + (k - 1) * d + 1 - o
                  for s, k, st, d, op, o in zip(shape[2:], kernel, strides, dilations, output_padding, wanted[-n:])]
        pairs = [(t // 2, t - t // 2) for t in totals]
    else:
        pads = node.attr("pads") or [0] * (2 * n)
        pairs = [(pads[i], pads[i + n]) for i in range(n)]
    if any(p0 != p1 for p0, p1 in pairs):
        raise b.error(f"pads {pairs} differ at the two ends of a dim; ConvTranspose pads both ends alike")
    out_channels = weight.shape[1] * groups
    layer = _defaults({"type": f"ConvTranspose{n}d", "out_channels": out_channels, "kernel_size": compact(kernel),
                       "stride": compact(strides), "padding": compact([p for p, _ in pairs]),
                       "output_padding": compact(output_padding), "groups": groups, "bias": bool(node.input(2)),
                       "dilation": compact(dilations)},
                      stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1)
    spatial = [plain(st * (s - 1) - 2 * p + d * (k - 1) + op + 1)
               for s, k, st, (p, _), d, op in zip(shape[2:], kernel, strides, pairs, dilations, output_padding)]
    b.emit(layer, [x], [(node.outputs[0], (shape[0], out_channels, *spatial))])


# -- matrix products --------------------------------------------------------------------------
def _is_weight_matrix(b: Builder, name: str) -> bool:
    tensor = b.tensor(name)
    return tensor.stored is not None and tensor.value is None and tensor.shape is not None and len(tensor.shape) == 2


def matmul(b: Builder, node: Node) -> None:
    """x @ W with W an initializer is a Linear (W's elements are its params); else a Matmul."""
    a, w = node.inputs[0], node.inputs[1]
    shape_a, shape_w = b.shape(a), b.shape(w)
    if _is_weight_matrix(b, w) and b.tensor(a).stored is None:
        out = (*shape_a[:-1], shape_w[1])
        b.emit({"type": "Linear", "out_features": shape_w[1], "bias": False}, [a], [(node.outputs[0], out)])
        return
    b.emit({"type": "Matmul"}, [a, w], [(node.outputs[0], matmul_shape(shape_a, shape_w))])


def gemm(b: Builder, node: Node) -> None:
    """alpha * A' B' + beta * C: a Linear when B is an initializer (C its bias when it is one per
    output), else a Matmul; then a Mul by alpha and an Add of C where they remain."""
    a, w, c = node.inputs[0], node.inputs[1], node.input(2)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    shape_a, shape_w = b.shape(a), b.shape(w)
    source: Any = a
    if node.attr("transA", 0):
        source = b.chain({"type": "Transpose", "dim0": 0, "dim1": 1}, a, role="transpose_a")
        shape_a = (shape_a[1], shape_a[0])
    n = shape_w[0] if node.attr("transB", 0) else shape_w[1]
    out = (shape_a[0], n)
    if _is_weight_matrix(b, w):
        bias = bool(c) and b.tensor(c).stored is not None and b.tensor(c).value is None and _is_bias(b.shape(c), n)
        steps = [(_defaults({"type": "Linear", "out_features": n, "bias": bias}, bias=True), [source], "linear")]
    else:
        bias, right = False, w
        if node.attr("transB", 0):
            right = b.chain({"type": "Transpose", "dim0": 0, "dim1": 1}, w, role="transpose_b")
        steps = [({"type": "Matmul"}, [source, right], "matmul")]
    if alpha != 1:
        steps.append(({"type": "Mul", "other": float_text(alpha)}, [], "alpha"))
    if c and not bias:
        steps.append(({"type": "Add"}, [c], "bias"))
        out = broadcast(out, b.shape(c))
    if c and beta != 1:
        b.note("Gemm's beta scales a constant bias; its multiply is not counted.")
    previous = None
    for i, (layer, inputs, role) in enumerate(steps):
        last = i == len(steps) - 1
        entry = b.emit(layer, ([previous] if previous else []) + inputs, [(node.outputs[0], out)] if last else None,
                       role="" if last else role)
        previous = Ref(entry)


def _is_bias(shape: Shape, n: Any) -> bool:
    return len(shape) >= 1 and shape[-1] == n and all(d == 1 for d in shape[:-1])


def einsum(b: Builder, node: Node) -> None:
    equation = node.attr("equation").replace(" ", "")
    if "..." in equation:
        raise b.error(f"the equation {equation!r} uses '...'; the spec's Einsum names every index")
    terms, output = equation.split("->") if "->" in equation else (equation, None)
    sizes: dict[str, Any] = {}
    for term, name in zip(terms.split(","), node.inputs):
        sizes.update(zip(term, b.shape(name)))
    if output is None:  # implicit output: the indices seen once, in alphabetical order
        letters = terms.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        equation = f"{terms}->{output}"
    b.emit({"type": "Einsum", "equation": equation}, list(node.inputs), [(node.outputs[0], tuple(sizes[c] for c in output))])


# -- normalization ----------------------------------------------------------------------------
def _eps(node: Node, default: float = 1e-5) -> dict[str, Any]:
    eps = float_text(node.attr("epsilon", default))
    return {} if math.isclose(eps, default, rel_tol=1e-6) else {"eps": eps}


def batch_norm(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    n = {2: 1, 3: 1, 4: 2, 5: 3}.get(len(shape))
    if n is None:
        raise b.error(f"expected a 2-D to 5-D input, found {len(shape)}-D")
    b.emit({"type": f"BatchNorm{n}d", **_eps(node)}, [x], [(node.outputs[0], shape)])


def layer_norm(b: Builder, node: Node) -> None:
    x, scale, bias = node.inputs[0], node.input(1), node.input(2)
    shape = b.shape(x)
    axis = node.attr("axis", -1) % len(shape)
    layer: dict[str, Any] = {"type": "LayerNorm"}
    if axis != len(shape) - 1:
        layer["normalized_shape"] = [expression(d) for d in shape[axis:]]
    layer.update(_eps(node))
    if b.tensor(scale).stored is None:
        layer["elementwise_affine"] = False
    elif not bias or b.tensor(bias).stored is None:
        layer["bias"] = False
    b.emit(layer, [x], [(node.outputs[0], shape)])


def group_norm(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    b.emit({"type": "GroupNorm", "num_groups": node.attr("num_groups"), **_eps(node)}, [x], [(node.outputs[0], b.shape(x))])


def instance_norm(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = b.shape(x)
    b.emit({"type": f"InstanceNorm{len(shape) - 2}d", "affine": True, **_eps(node)}, [x], [(node.outputs[0], shape)])


# -- pooling ----------------------------------------------------------------------------------
def pool(kind: str) -> Converter:
    """MaxPool / AveragePool: PyTorch's default stride is the kernel, ONNX's is 1, so it is written out."""

    def convert(b: Builder, node: Node) -> None:
        x = node.inputs[0]
        shape = b.shape(x)
        kernel = list(node.attr("kernel_shape"))
        n = len(kernel)
        strides, dilations = list(node.attr("strides") or [1] * n), list(node.attr("dilations") or [1] * n)
        pairs = explicit_pads(b, node, shape[2:], kernel, strides, dilations)
        _, padding = _symmetric_padding(b, node, x, pairs)
        ceil = bool(node.attr("ceil_mode", 0))
        layer: dict[str, Any] = {"type": f"{kind}{n}d", "kernel_size": compact(kernel), "stride": compact(strides),
                                 "padding": compact(padding), "ceil_mode": ceil}
        if kind == "MaxPool":
            layer["dilation"] = compact(dilations)
        elif any(padding) and not node.attr("count_include_pad", 0):
            layer["count_include_pad"] = False
        layer = _defaults(layer, padding=0, ceil_mode=False, dilation=1)
        spatial = [window_out(s, k, st, 2 * p, d, ceil) for s, k, st, p, d in zip(shape[2:], kernel, strides, padding, dilations)]
        b.emit(layer, [x], [(node.outputs[0], (*shape[:2], *spatial))])

    return convert


def global_pool(kind: str) -> Converter:
    def convert(b: Builder, node: Node) -> None:
        x = node.inputs[0]
        shape = b.shape(x)
        n = len(shape) - 2
        b.emit({"type": f"{kind}{n}d", "output_size": 1}, [x], [(node.outputs[0], (*shape[:2], *[1] * n))])

    return convert


# -- activations ------------------------------------------------------------------------------
def unary(layer_type: str, **args: Any) -> Converter:
    """An elementwise layer of one input, shape kept."""

    def convert(b: Builder, node: Node) -> None:
        x = node.inputs[0]
        b.emit({"type": layer_type, **args}, [x], [(node.outputs[0], b.shape(x))])

    return convert


def softmax(b: Builder, node: Node) -> None:
    opset, x = b.opset, node.inputs[0]
    rank = b.rank(x)
    axis = node.attr("axis", -1 if opset >= 13 else 1) % rank
    if opset < 13 and axis != rank - 1:
        raise b.error(f"Softmax of opset {opset} flattens the dims from axis {axis} on; the importer maps it only "
                      "over the last dim")
    b.emit({"type": "Softmax", "dim": -1 if axis == rank - 1 else axis}, [x], [(node.outputs[0], b.shape(x))])


def gelu(b: Builder, node: Node) -> None:
    approximate = node.attr("approximate", "none")
    unary("GELU", **({"approximate": "tanh"} if approximate == "tanh" else {}))(b, node)


def leaky_relu(b: Builder, node: Node) -> None:
    slope = float_text(node.attr("alpha", 0.01))
    unary("LeakyReLU", **({} if math.isclose(slope, 0.01) else {"negative_slope": slope}))(b, node)


def hard_sigmoid(b: Builder, node: Node) -> None:
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    if not (math.isclose(alpha, 1 / 6, rel_tol=1e-5) and math.isclose(beta, 0.5)):
        b.note("HardSigmoid with other alpha/beta than PyTorch's (1/6, 1/2) is written as Hardsigmoid (the same cost).")
    unary("Hardsigmoid")(b, node)


def _scalar(b: Builder, name: str) -> Any:
    """The one number an optional input holds (Clip's bounds, Pow's exponent), or None."""
    value = b.value(name)
    if value is None or value.size != 1:
        return None
    number = plain(value.reshape(-1)[0])
    return float_text(number) if isinstance(number, float) else number


def clip(b: Builder, node: Node) -> None:
    """Clip(0, 6) is ReLU6, Clip(0, none) is ReLU, anything else Clamp."""
    low = node.attr("min") if node.attr("min") is not None else _scalar(b, node.input(1))
    high = node.attr("max") if node.attr("max") is not None else _scalar(b, node.input(2))
    if (node.input(1) and low is None) or (node.input(2) and high is None):
        raise b.error("its bounds are computed at run time; the importer needs them constant")
    if low == 0 and high == 6:
        unary("ReLU6")(b, node)
    elif low == 0 and high is None:
        unary("ReLU")(b, node)
    else:
        bounds = {k: float_text(v) for k, v in (("min", low), ("max", high)) if v is not None}
        unary("Clamp", **bounds)(b, node)


def power(b: Builder, node: Node) -> None:
    exponent = _scalar(b, node.input(1))
    if exponent is None:
        raise b.error("its exponent is a tensor; the spec's Pow takes a number")
    unary("Pow", exponent=exponent)(b, node)


def dropout(b: Builder, node: Node) -> None:
    ratio = node.attr("ratio") if node.attr("ratio") is not None else _scalar(b, node.input(1))
    layer = {"type": "Dropout"} if ratio is None or math.isclose(ratio, 0.5) else {"type": "Dropout", "p": float_text(ratio)}
    b.emit(layer, [node.inputs[0]], [(node.outputs[0], b.shape(node.inputs[0]))])


# -- arithmetic -------------------------------------------------------------------------------
def _uniform(b: Builder, name: str) -> Any:
    """The number every element of a constant equals, or None."""
    value = b.value(name)
    if value is None or value.size == 0:
        return None
    first = value.reshape(-1)[0]
    if value.dtype != object and not np.all(value == first):
        return None
    if value.dtype == object and any(v != first for v in value.reshape(-1)):
        return None
    number = plain(first)
    return float_text(number) if isinstance(number, float) else number


# how the spec writes what it has no layer for; a header line says so where a spec keeps one
NOTES = {
    "Sub": "a - b is written as Add (the same shape and cost; the spec has no subtraction of tensors).",
    "rsub": "c - x is written as Add of c (the same cost; the sign is not kept).",
    "Div": "a / b is written as Mul (the same shape and cost; the spec has no division of tensors).",
    "rdiv": "c / x is written as Pow -1 (one operation per element, as the division; c is not kept).",
}


def arithmetic(kind: str) -> Converter:
    """Add, Sub, Mul, Div: with a one-valued constant (that broadcasting does not grow) a layer of
    one input and `other` (x - c: Add of -c, x / c: Mul by 1/c); else of two inputs. Sub and Div
    of two tensors become Add and Mul of the same cost."""

    def convert(b: Builder, node: Node) -> None:
        a, c = node.inputs[0], node.inputs[1]
        out = broadcast(b.shape(a), b.shape(c))
        for tensor, number, swapped in ((a, _uniform(b, c), False), (c, _uniform(b, a), True)):
            if number is not None and b.value(tensor) is None and len(b.shape(tensor)) == len(out) \
                    and all(same_dim(x, y) for x, y in zip(b.shape(tensor), out)):
                layer, note = _with_number(b, kind, number, swapped)
                entry = b.emit(layer, [tensor], [(node.outputs[0], out)], dtype=b.tensor(tensor).dtype)
                entry.note = NOTES.get(note, "")
                return
        layer_type = {"Add": "Add", "Sub": "Add", "Mul": "Mul", "Div": "Mul"}[kind]
        entry = b.emit({"type": layer_type}, [a, c], [(node.outputs[0], out)])
        entry.note = NOTES.get(kind, "")

    return convert


def _with_number(b: Builder, kind: str, number: Any, swapped: bool) -> tuple[dict[str, Any], str]:
    """The layer of x (op) number, and the key of its note (when the spec cannot say it exactly)."""
    if kind in ("Add", "Mul"):
        return {"type": kind, "other": _number(number)}, ""
    if kind == "Sub":
        return {"type": "Add", "other": _number(number if swapped else -number)}, "rsub" if swapped else ""
    if swapped:
        return {"type": "Pow", "exponent": -1}, "rdiv"
    if number == 0:
        raise b.error("divides by zero")
    return {"type": "Mul", "other": _number(1 / number if isinstance(number, float) else sympy.Rational(1, 1) / number)}, ""


def _number(value: Any) -> Any:
    """A number for `other`: an int, a float, or an expression of params."""
    value = plain(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, sympy.Rational):
        return float(value)
    return expression(value)


def variadic_sum(b: Builder, node: Node) -> None:
    inputs = list(node.inputs)
    if len(inputs) == 1:
        b.alias(node.outputs[0], inputs[0])
        return
    b.emit({"type": "Add"}, inputs, [(node.outputs[0], broadcast(*(b.shape(x) for x in inputs)))])


def where(b: Builder, node: Node) -> None:
    shape = broadcast(*(b.shape(x) for x in node.inputs))
    b.emit({"type": "Where"}, list(node.inputs), [(node.outputs[0], shape)], dtype=b.tensor(node.inputs[1]).dtype)


def cumsum(b: Builder, node: Node) -> None:
    if node.attr("exclusive", 0) or node.attr("reverse", 0):
        b.note("CumSum's exclusive/reverse forms are counted as a plain cumsum (the same adds).")
    axis = int(b.const(node.input(1), "axis").reshape(-1)[0])
    b.emit({"type": "Cumsum", "dim": axis}, [node.inputs[0]], [(node.outputs[0], b.shape(node.inputs[0]))])


def topk(b: Builder, node: Node) -> None:
    x = node.inputs[0]
    shape = list(b.shape(x))
    k = plain(ints(b.const(node.input(1), "k"))[0])
    axis = node.attr("axis", -1) % len(shape)
    shape[axis] = k
    b.emit({"type": "TopK", "k": expression(k), "dim": axis - len(shape)}, [x],
           [(node.outputs[0], tuple(shape)), (node.outputs[1], tuple(shape))])
