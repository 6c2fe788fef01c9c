"""Random whole specs for property tests, and the tests' own reading of a spec.

`reference(spec)` runs a spec dict the way PyTorch would run the network: every layer's
output shape, parameter and buffer counts, MACs and (where a definition fixes them) other
FLOPs come from torch.nn's documented formulas written out below; `saved_bytes(spec)`
walks the same graph with autograd's derivative formulas for what one training forward
keeps. Nothing here reads archspec's layers, cost tables or shape rules.

The strategies build convolutional chains over 1, 2 or 3 spatial dims, token/MLP chains,
and graphs with two-branch blocks joined by `Add` or `Concat` through `from:`. Each
layer's arguments are drawn for the shape that reaches it, and the reference's own shape
rules keep every drawn spec one that PyTorch accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from hypothesis import strategies as st

from tests.oracles import Counter, T, erf, maximum, minimum, sigmoid, tanh

Shape = tuple[int, ...]
FLOAT = 4  # bytes of an fp32 activation
INT64 = 8  # bytes of an id or an argmax index


@dataclass(frozen=True)
class Expected:
    """One layer's figures by the test's own formulas."""

    shape: Shape
    params: int = 0
    buffers: int = 0
    macs: int = 0
    other_flops: int | None = 0  # FLOPs beyond 2 * MACs; None where only a convention fixes them


# ---- the reference: torch.nn's formulas ------------------------------------------------------


def per_dim(value: Any, dims: int) -> tuple[int, ...]:
    """A per-spatial-dim argument given as one int or as a list of one per dim."""
    return tuple(value) if isinstance(value, list) else (value,) * dims


def conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """torch.nn.ConvNd's output size along one dim (the formula of its documentation)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """ATen's pooling output size: ceil_mode rounds the window count up, but the last window
    has to start inside the input or its left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def per_element(forward: Callable[[T], T]) -> int:
    """FLOPs per element of an elementwise forward, counted by running it (tests/oracles.py)."""
    counter = Counter()
    forward(T([[0.5, -1.5], [2.0, -0.25]], counter))
    return counter.flops // 4


# elementwise activations: (spec layer, its forward from PyTorch's definition, what autograd
# saves: "output" where the derivative is written with the result, else "input")
ACTIVATIONS: list[tuple[dict[str, Any], Callable[[T], T], str]] = [
    ({"type": "ReLU"}, lambda x: maximum(x, 0.0), "output"),
    ({"type": "ReLU6"}, lambda x: minimum(maximum(x, 0.0), 6.0), "input"),  # hardtanh_backward(grad, self)
    ({"type": "GELU"}, lambda x: x * (erf(x / math.sqrt(2.0)) + 1.0) * 0.5, "input"),
    ({"type": "GELU", "approximate": "tanh"},
     lambda x: x * (tanh((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)) + 1.0) * 0.5, "input"),
    ({"type": "SiLU"}, lambda x: x * sigmoid(x), "input"),
    ({"type": "Sigmoid"}, sigmoid, "output"),
    ({"type": "Tanh"}, tanh, "output"),
    ({"type": "Hardswish"}, lambda x: x * minimum(maximum(x + 3.0, 0.0), 6.0) / 6.0, "input"),
]
ACTIVATION_COST = {(layer["type"], layer.get("approximate", "none")): per_element(f) for layer, f, _ in ACTIVATIONS}
SAVES_OUTPUT = {layer["type"] for layer, _, saves in ACTIVATIONS if saves == "output"}


def conv(layer: dict[str, Any], x: Shape) -> Expected:
    n, c, *sizes = x
    dims = len(sizes)
    out, groups, bias = layer["out_channels"], layer.get("groups", 1), layer.get("bias", True)
    kernel, stride, dilation = (per_dim(layer.get(key, 1), dims) for key in ("kernel_size", "stride", "dilation"))
    padding = layer.get("padding", 0)
    if padding == "same":  # PyTorch pads so that the output keeps the input's size (stride 1 only)
        out_sizes = tuple(sizes)
    else:
        pads = (0,) * dims if padding == "valid" else per_dim(padding, dims)
        out_sizes = tuple(map(conv_size, sizes, kernel, stride, pads, dilation))
    taps = c // groups * math.prod(kernel)  # one output element reads its group's channels under the kernel
    outputs = n * out * math.prod(out_sizes)
    return Expected((n, out, *out_sizes), params=out * taps + (out if bias else 0), macs=outputs * taps,
                    other_flops=outputs if bias else 0)


def linear(layer: dict[str, Any], x: Shape) -> Expected:
    rows, inp, out, bias = math.prod(x[:-1]), x[-1], layer["out_features"], layer.get("bias", True)
    return Expected((*x[:-1], out), params=inp * out + (out if bias else 0), macs=rows * inp * out,
                    other_flops=rows * out if bias else 0)


def batch_norm(layer: dict[str, Any], x: Shape) -> Expected:
    c = x[1]
    tracked = layer.get("track_running_stats", True)
    # eval mode with running statistics folds into x * scale + shift; without them PyTorch
    # normalizes by the batch's own statistics, a count only a convention fixes
    return Expected(x, params=2 * c if layer.get("affine", True) else 0, buffers=2 * c + 1 if tracked else 0,
                    other_flops=2 * math.prod(x) if tracked else None)


def normalized_size(layer: dict[str, Any], x: Shape) -> int:
    """Elements of one LayerNorm row: the trailing dims `normalized_shape` gives (default: the last)."""
    shape = layer.get("normalized_shape", x[-1])
    shape = shape if isinstance(shape, list) else [shape]
    trailing = x[len(x) - len(shape):]
    assert list(trailing) == shape, (shape, x)  # PyTorch raises otherwise
    return math.prod(trailing)


def layer_norm(layer: dict[str, Any], x: Shape) -> Expected:
    d = normalized_size(layer, x)
    affine = layer.get("elementwise_affine", True)
    params = (d + (d if layer.get("bias", True) else 0)) if affine else 0
    return Expected(x, params=params, other_flops=None)  # how its reductions are counted is a convention


def embedding(layer: dict[str, Any], ids: Shape) -> Expected:
    return Expected((*ids, layer["embedding_dim"]), params=layer["num_embeddings"] * layer["embedding_dim"])


def activation(layer: dict[str, Any], x: Shape) -> Expected:
    return Expected(x, other_flops=math.prod(x) * ACTIVATION_COST[layer["type"], layer.get("approximate", "none")])


def pool(layer: dict[str, Any], x: Shape) -> Expected:
    n, c, *sizes = x
    dims = len(sizes)
    is_max = layer["type"].startswith("MaxPool")
    kernel = per_dim(layer["kernel_size"], dims)
    stride = per_dim(layer.get("stride") or layer["kernel_size"], dims)  # the stride defaults to the window
    padding = per_dim(layer.get("padding", 0), dims)
    dilation = per_dim(layer.get("dilation", 1), dims) if is_max else (1,) * dims
    ceil_mode = [layer.get("ceil_mode", False)] * dims
    shape = (n, c, *map(pool_size, sizes, kernel, stride, padding, dilation, ceil_mode))
    # a window of k elements: k - 1 comparisons for a maximum, k - 1 adds and a division for a mean;
    # along a dim where a ceil_mode window overhangs the padded input, the taps that fall inside it
    taps = [k if d * (k - 1) + 1 <= size + 2 * p else (size + 2 * p - 1) // d + 1
            for size, k, p, d in zip(sizes, kernel, padding, dilation)]
    window = math.prod(taps)
    return Expected(shape, other_flops=math.prod(shape) * (window - 1 if is_max else window))


def adaptive_window_reads(size: int, out: int) -> int:
    """Elements read along one dim: adaptive window i spans floor(i*S/O) to ceil((i+1)*S/O)."""
    return sum(-(-(i + 1) * size // out) - i * size // out for i in range(out))


def adaptive_avg_pool(layer: dict[str, Any], x: Shape) -> Expected:
    n, c, *sizes = x
    outs = per_dim(layer["output_size"], len(sizes))
    # each window's mean: its elements summed (k - 1 adds) and one division, k FLOPs in all
    return Expected((n, c, *outs), other_flops=n * c * math.prod(map(adaptive_window_reads, sizes, outs)))


def flatten(layer: dict[str, Any], x: Shape) -> Expected:
    start = layer.get("start_dim", 1) % len(x)
    end = layer.get("end_dim", -1) % len(x)
    return Expected((*x[:start], math.prod(x[start:end + 1]), *x[end + 1:]))


def identity(layer: dict[str, Any], x: Shape) -> Expected:
    return Expected(x)


def add(layer: dict[str, Any], *xs: Shape) -> Expected:
    assert all(x == xs[0] for x in xs), xs
    return Expected(xs[0], other_flops=(len(xs) - 1) * math.prod(xs[0]))


def concat(layer: dict[str, Any], *xs: Shape) -> Expected:
    dim = layer.get("dim", 1)
    joined = list(xs[0])
    joined[dim] = sum(x[dim] for x in xs)
    return Expected(tuple(joined))


RULES: dict[str, Callable[..., Expected]] = {
    "Linear": linear, "LayerNorm": layer_norm, "Embedding": embedding, "Flatten": flatten, "Dropout": identity,
    "Add": add, "Concat": concat,
    **{layer["type"]: activation for layer, _, _ in ACTIVATIONS},
    **{f"{kind}{d}d": rule for d in (1, 2, 3) for kind, rule in (
        ("Conv", conv), ("BatchNorm", batch_norm), ("MaxPool", pool), ("AvgPool", pool),
        ("AdaptiveAvgPool", adaptive_avg_pool))},
}


def sources(layer: dict[str, Any], previous: str) -> list[str]:
    given = layer.get("from", previous)
    return [given] if isinstance(given, str) else list(given)


def input_shapes(spec: dict[str, Any], values: dict[str, int]) -> dict[str, Shape]:
    bound = {**spec["params"], **values}
    return {name: tuple(bound.get(d, d) for d in tensor["shape"]) for name, tensor in spec["inputs"].items()}


def bind(layer: dict[str, Any], bound: dict[str, int]) -> dict[str, Any]:
    """The layer with the param names in its list arguments (normalized_shape: [L, 8]) replaced by their values."""
    return {key: [bound.get(v, v) for v in value] if isinstance(value, list) and key != "from" else value
            for key, value in layer.items()}


def reference(spec: dict[str, Any], **values: int) -> dict[str, Expected]:
    """Every layer's expected figures, by name, with params bound to `values` (else the spec's)."""
    bound = {**spec["params"], **values}
    shapes = input_shapes(spec, values)
    previous = next(iter(shapes))
    expected = {}
    for layer in spec["layers"]:
        result = RULES[layer["type"]](bind(layer, bound), *(shapes[name] for name in sources(layer, previous)))
        shapes[layer["name"]] = result.shape
        expected[layer["name"]] = result
        previous = layer["name"]
    return expected


@dataclass
class Storages:
    """Which storage every tensor of a forward pass lives in, and each storage's bytes."""

    of: dict[str, str]  # tensor (an input or a layer's output) -> its storage
    size: dict[str, int]  # storage -> bytes


def allocate(spec: dict[str, Any], training: bool, **values: int) -> Storages:
    """Walk the graph as PyTorch allocates: every layer writes a new fp32 tensor, except a
    view (Flatten) and a dropout that returns its input itself (at inference, or p == 0 in
    training: ATen's dropout returns the very tensor it was given)."""
    expected = reference(spec, **values)
    shapes = input_shapes(spec, values)
    of = {name: name for name in shapes}
    size = {name: (INT64 if tensor.get("dtype") == "int64" else FLOAT) * math.prod(shapes[name])
            for name, tensor in spec["inputs"].items()}
    previous = next(iter(shapes))
    for layer in spec["layers"]:
        name, kind = layer["name"], layer["type"]
        passed_through = kind == "Dropout" and (not training or layer["p"] == 0)
        if kind == "Flatten" or passed_through:
            of[name] = of[sources(layer, previous)[0]]
        else:
            of[name] = name
            size[name] = FLOAT * math.prod(expected[name].shape)
        previous = name
    return Storages(of, size)


def saved_bytes(spec: dict[str, Any], device: str = "cuda", **values: int) -> int:
    """Bytes autograd keeps from one training forward: the distinct storages the layers'
    derivative formulas save, plus the small tensors the kernels return for backward."""
    expected = reference(spec, **values)
    storages = allocate(spec, training=True, **values)
    bound = {**spec["params"], **values}
    shapes = {**input_shapes(spec, values), **{name: e.shape for name, e in expected.items()}}
    kept: set[str] = set()
    extra = 0
    previous = next(iter(spec["inputs"]))
    for layer in spec["layers"]:
        name, kind = layer["name"], layer["type"]
        x = sources(layer, previous)[0]
        out = shapes[name]
        previous = name
        if kind in SAVES_OUTPUT:
            kept.add(storages.of[name])
        elif kind in ("Add", "Concat", "Flatten") or (kind == "Dropout" and layer["p"] == 0):
            pass  # their backward needs only sizes
        elif kind == "Dropout":
            # CUDA's fused kernel keeps a bool mask; on CPU the input is multiplied by a float noise tensor
            extra += math.prod(out) * (1 if device == "cuda" else FLOAT)
        elif kind.startswith("AdaptiveAvgPool") and all(d == 1 for d in out[2:]):
            pass  # ATen computes a global average as a mean, whose backward needs only sizes
        else:  # convolutions, Linear, Embedding (its ids), pools, norms, the other activations
            kept.add(storages.of[x])
        if kind.startswith("BatchNorm"):
            # the batch mean and inverse std, and the running mean and var when tracked
            extra += FLOAT * shapes[x][1] * (4 if layer.get("track_running_stats", True) else 2)
        elif kind == "LayerNorm":
            rows = math.prod(out) // normalized_size(bind(layer, bound), out)
            extra += FLOAT * 2 * rows  # the mean and 1/std of every row
        elif kind.startswith("MaxPool"):
            extra += INT64 * math.prod(out)  # the argmax of every window
    return sum(storages.size[s] for s in kept) + extra


def inference_peak_bytes(spec: dict[str, Any], **values: int) -> int:
    """The most bytes live at once in an eval-mode forward: a storage is live from the layer
    that writes it (the inputs: from the start) to the last layer that reads any tensor in
    it; the network's output stays live to the end."""
    storages = allocate(spec, training=False, **values)
    layers = spec["layers"]
    born = {name: -1 for name in spec["inputs"]}
    last_read = {}
    previous = next(iter(spec["inputs"]))
    for step, layer in enumerate(layers):
        born.setdefault(storages.of[layer["name"]], step)
        for tensor in sources(layer, previous):
            last_read[storages.of[tensor]] = step
        previous = layer["name"]
    last_read[storages.of[layers[-1]["name"]]] = len(layers)
    return max(
        sum(size for storage, size in storages.size.items()
            if born[storage] <= step <= last_read.get(storage, born[storage]))
        for step in range(len(layers))
    )


# ---- building specs ---------------------------------------------------------------------------


class Builder:
    """A spec under construction: its layers so far and the output `cursor` the next one reads."""

    def __init__(self, params: dict[str, int], inputs: dict[str, dict[str, Any]]):
        self.spec = {"name": "random", "params": params, "inputs": inputs, "layers": []}
        self.shapes = input_shapes(self.spec, {})
        self.cursor = self.last = next(iter(inputs))

    @property
    def shape(self) -> Shape:
        return self.shapes[self.cursor]

    @property
    def spatial(self) -> int:
        """How many spatial dims the cursor's (N, C, *S) tensor has."""
        return len(self.shape) - 2

    def add(self, layer: dict[str, Any], inputs: list[str] | None = None) -> str:
        """Append a layer reading `inputs` (default: the cursor); `from:` only where the default differs."""
        name = f"n{len(self.spec['layers'])}"
        layer = {**layer, "name": name}
        inputs = inputs or [self.cursor]
        if inputs != [self.last]:
            layer["from"] = inputs[0] if len(inputs) == 1 else inputs
        result = RULES[layer["type"]](bind(layer, self.spec["params"]), *(self.shapes[i] for i in inputs))
        assert all(d >= 1 for d in result.shape), (layer, result.shape)
        self.spec["layers"].append(layer)
        self.shapes[name] = result.shape
        self.cursor = self.last = name
        return name


def per_dim_argument(draw, values: list[int]) -> int | list[int]:
    """One int when every dim agrees (sometimes still written as a list), else one per dim."""
    return values[0] if len(set(values)) == 1 and draw(st.booleans()) else values


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def draw_conv(draw, b: Builder, same_size: bool = False, out_channels: int | None = None) -> None:
    """A ConvNd valid for the current shape; `same_size` keeps the spatial size (stride 1)."""
    c = b.shape[1]
    out = out_channels or draw(st.sampled_from(divisors(c))) * draw(st.integers(1, 4))
    groups = draw(st.sampled_from([g for g in divisors(c) if out % g == 0]))  # divides both channel counts
    layer: dict[str, Any] = {"type": f"Conv{b.spatial}d", "out_channels": out}
    if groups > 1:
        layer["groups"] = groups
    kernel, dilation, padding, stride = [], [], [], []
    mode = draw(st.sampled_from(["same", "odd"] if same_size else ["same", "valid", "explicit", "explicit"]))
    for size in b.shape[2:]:
        if mode == "odd":  # symmetric padding that keeps the size: odd kernel, p = d(k-1)/2
            k, d = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
            p = d * (k - 1) // 2
        elif mode == "same":  # PyTorch pads whatever the window needs
            k, d, p = draw(st.integers(1, 5)), draw(st.integers(1, 3)), 0
        else:
            p = draw(st.integers(0, 2)) if mode == "explicit" else 0
            padded = size + 2 * p
            k = draw(st.integers(1, min(5, padded)))
            # the dilated window has to fit in the padded input
            d = draw(st.integers(1, 3 if k == 1 else max(1, min(3, (padded - 1) // (k - 1)))))
        kernel.append(k)
        dilation.append(d)
        padding.append(p)
        stride.append(1 if same_size or mode == "same" else draw(st.integers(1, 3)))
    layer["kernel_size"] = per_dim_argument(draw, kernel)
    if mode in ("same", "valid"):
        layer["padding"] = mode
    elif any(padding) or draw(st.booleans()):
        layer["padding"] = per_dim_argument(draw, padding)
    if any(s > 1 for s in stride):
        layer["stride"] = per_dim_argument(draw, stride)
    if any(d > 1 for d in dilation):
        layer["dilation"] = per_dim_argument(draw, dilation)
    if not draw(st.booleans()):
        layer["bias"] = False
    b.add(layer)


def draw_pool(draw, b: Builder) -> None:
    """A MaxPoolNd or AvgPoolNd whose windows fit the padded input (a ceil_mode window
    may overhang it in PyTorch, which archspec refuses: wide_ceil_pool_specs)."""
    kind = draw(st.sampled_from(["MaxPool", "AvgPool"]))
    kernel, stride, padding, dilation = [], [], [], []
    for size in b.shape[2:]:
        d = draw(st.integers(1, 2)) if kind == "MaxPool" else 1
        k = draw(st.integers(1, 3))
        p = draw(st.integers(0, k // 2))  # PyTorch: padding at most half the kernel
        while d * (k - 1) + 1 > size + 2 * p:  # shrink the window until it fits
            d, k = (1, k) if d > 1 else (1, k - 1)
            p = min(p, k // 2)
        kernel.append(k)
        dilation.append(d)
        padding.append(p)
        stride.append(draw(st.integers(1, 3)))
    layer: dict[str, Any] = {"type": f"{kind}{b.spatial}d", "kernel_size": per_dim_argument(draw, kernel)}
    if draw(st.booleans()):  # else the stride defaults to the kernel size
        layer["stride"] = per_dim_argument(draw, stride)
    if any(padding):
        layer["padding"] = per_dim_argument(draw, padding)
    if any(d > 1 for d in dilation):
        layer["dilation"] = per_dim_argument(draw, dilation)
    if draw(st.booleans()):
        layer["ceil_mode"] = True
    b.add(layer)


def draw_activation(draw, b: Builder) -> None:
    b.add(dict(draw(st.sampled_from([layer for layer, _, _ in ACTIVATIONS]))))


def draw_dropout(draw, b: Builder) -> None:
    b.add({"type": "Dropout", "p": draw(st.sampled_from([0.0, 0.1, 0.5]))})


def draw_batch_norm(draw, b: Builder) -> None:
    layer = {"type": f"BatchNorm{max(1, b.spatial)}d"}  # BatchNorm1d takes (N, C) as well as (N, C, L)
    for flag in ("affine", "track_running_stats"):
        if draw(st.integers(0, 3)) == 0:
            layer[flag] = False
    b.add(layer)


def draw_layer_norm(draw, b: Builder) -> None:
    layer: dict[str, Any] = {"type": "LayerNorm"}
    trailing = draw(st.integers(0, min(2, len(b.shape) - 1)))  # 0: the default, the last dim
    if trailing == 1:
        layer["normalized_shape"] = b.shape[-1] if draw(st.booleans()) else [b.shape[-1]]
    elif trailing == 2:  # a token chain's (B, L, D): L by name, so that it may be left free
        layer["normalized_shape"] = ["L", b.shape[-1]]
    choice = draw(st.integers(0, 3))
    if choice == 1:
        layer["elementwise_affine"] = False
    elif choice == 2:
        layer["bias"] = False
    b.add(layer)


def draw_linear(draw, b: Builder, out_features: int | None = None) -> None:
    layer: dict[str, Any] = {"type": "Linear", "out_features": out_features or draw(st.integers(1, 24))}
    if draw(st.integers(0, 3)) == 0:
        layer["bias"] = False
    b.add(layer)


def draw_spatial_flatten(draw, b: Builder) -> None:
    """Flatten the spatial dims of a 2-D or 3-D map into one: the chain goes on in 1-D
    (on a 1-D map, an activation instead)."""
    if b.spatial > 1:
        b.add({"type": "Flatten", "start_dim": 2})
    else:
        draw_activation(draw, b)


def draw_branches(draw, b: Builder, steps: list[Callable], concat_dims: list[int] | None = None) -> None:
    """Two branches from the cursor (either may be empty: the identity), joined by Add or by
    Concat along one of `concat_dims` (default: any but the batch) when their shapes agree, and
    by Concat along the channels otherwise."""
    start = b.cursor
    ends: list[str] = []
    for branch in range(2):
        b.cursor = start
        # the second branch is never empty when the first is: the join needs two tensors
        least = 1 if branch == 1 and ends[0] == start else 0
        for _ in range(draw(st.integers(least, 2))):
            draw(st.sampled_from(steps))(draw, b)
        ends.append(b.cursor)
    rank = len(b.shapes[ends[0]])
    if b.shapes[ends[0]] != b.shapes[ends[1]]:
        b.add({"type": "Concat", "dim": 1}, ends)
    elif draw(st.integers(0, 3)):
        b.add({"type": "Add"}, ends)
    else:  # equal shapes join along any dim but the batch, counted from either end
        dims = concat_dims or [*range(1, rank), *range(1 - rank, 0)]
        b.add({"type": "Concat", "dim": draw(st.sampled_from(dims))}, ends)


def spatial_branch_step(draw, b: Builder) -> None:
    """One shape-keeping step of a convolutional branch (a conv keeping the channels half the
    time, so that many branches meet in an Add)."""
    step = draw(st.sampled_from(["conv", "conv", "norm", "act"]))
    if step == "conv":
        draw_conv(draw, b, same_size=True, out_channels=b.shape[1] if draw(st.booleans()) else None)
    elif step == "norm":
        draw_batch_norm(draw, b)
    else:
        draw_activation(draw, b)


def token_branch_step(draw, b: Builder) -> None:
    """One step of a residual MLP branch, returning to the width it started from."""
    width = b.shape[-1]
    if draw(st.booleans()):
        draw_linear(draw, b, out_features=draw(st.integers(1, 24)))
        draw_activation(draw, b)
        draw_linear(draw, b, out_features=width)
    else:
        draw(st.sampled_from([draw_layer_norm, draw_activation, draw_dropout]))(draw, b)


def chain_of(draw, steps: list[Callable], block: Callable | None) -> list[Callable]:
    """1 to 6 steps; with a `block`, one of them at least is that block."""
    if block is None:
        return draw(st.lists(st.sampled_from(steps), min_size=1, max_size=6))
    chain = draw(st.lists(st.sampled_from([*steps, block]), max_size=5))
    chain.insert(draw(st.integers(0, len(chain))), block)
    return chain


SPATIAL_NAMES = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}


@st.composite
def cnn_specs(draw, branches: bool = False) -> dict[str, Any]:
    """ConvNd / BatchNormNd / activations / pooling / Dropout on (B, C, *S) with 1 to 3
    spatial dims, optionally two-branch blocks, then perhaps Flatten (sometimes after an
    adaptive average pool) and a Linear head."""
    dims = draw(st.sampled_from([1, 2, 2, 2, 3]))
    names = SPATIAL_NAMES[dims]
    largest = {1: 40, 2: 20, 3: 8}[dims]
    params = {"B": draw(st.integers(1, 3)), **{name: draw(st.integers(1, largest)) for name in names}}
    b = Builder(params, {"x": {"shape": ["B", draw(st.integers(1, 6)), *names]}})
    steps = [draw_conv, draw_conv, draw_batch_norm, draw_activation, draw_pool, draw_pool, draw_dropout,
             draw_spatial_flatten]
    block = partial(draw_branches, steps=[spatial_branch_step]) if branches else None
    for step in chain_of(draw, steps, block):
        step(draw, b)
    if draw(st.booleans()):
        if draw(st.booleans()):
            b.add({"type": f"AdaptiveAvgPool{b.spatial}d", "output_size": draw(st.integers(1, 3))})
        b.add({"type": "Flatten"})
        for _ in range(draw(st.integers(0, 2))):
            draw(st.sampled_from([draw_linear, draw_linear, draw_activation, draw_dropout, draw_batch_norm]))(draw, b)
        draw_linear(draw, b)
    return b.spec


@st.composite
def token_specs(draw, branches: bool = False) -> dict[str, Any]:
    """Linear / LayerNorm / activations / Dropout on (B, L, D) or (B, D), from ids through
    an Embedding or from features, optionally residual MLP branches, perhaps a Flatten."""
    params = {"B": draw(st.integers(1, 3)), "L": draw(st.integers(1, 12))}
    start = draw(st.sampled_from(["ids", "sequence", "vector"]))
    if start == "ids":
        b = Builder(params, {"ids": {"shape": ["B", "L"], "dtype": "int64"}})
        rows, width = draw(st.integers(1, 40)), draw(st.integers(1, 24))
        b.add({"type": "Embedding", "num_embeddings": rows, "embedding_dim": width})
    else:
        shape = ["B", "L", draw(st.integers(1, 24))] if start == "sequence" else ["B", draw(st.integers(1, 24))]
        b = Builder(params, {"x": {"shape": shape}})
    steps = [draw_linear, draw_linear, draw_layer_norm, draw_activation, draw_dropout]
    # joined along the features only: a (B, L, D) tensor's dim 1 stays L, which LayerNorm may name
    block = partial(draw_branches, steps=[token_branch_step], concat_dims=[-1]) if branches else None
    for step in chain_of(draw, steps, block):
        step(draw, b)
    if len(b.shape) == 3 and draw(st.integers(0, 3)) == 0:
        b.add({"type": "Flatten"})
        draw_linear(draw, b)
    return b.spec


@st.composite
def wide_ceil_pool_specs(draw) -> dict[str, Any]:
    """One MaxPool or AvgPool in 1 or 2 dims with ceil_mode and a window wider than the padded
    input by less than the stride: PyTorch rounds the window count up to one, a window that
    overhangs the input's end."""
    dims = draw(st.integers(1, 2))
    sizes = [draw(st.integers(1, 6)) for _ in range(dims)]
    stride = [draw(st.integers(2, 4)) for _ in range(dims)]
    padding = draw(st.integers(0, 1))
    kernel = [size + 2 * padding + draw(st.integers(1, s - 1)) for size, s in zip(sizes, stride)]
    layer = {"type": f"{draw(st.sampled_from(['MaxPool', 'AvgPool']))}{dims}d", "kernel_size": kernel,
             "stride": stride, "padding": padding, "ceil_mode": True, "name": "n0"}
    return {"name": "random", "params": {"B": 1}, "inputs": {"x": {"shape": ["B", 2, *sizes]}}, "layers": [layer]}


@st.composite
def late_input_view_specs(draw) -> dict[str, Any]:
    """A residual MLP block whose skip connection passes the input x through a Dropout or a
    Flatten (at inference: the same storage) after the branch's layers, then perhaps more."""
    b = Builder({"B": draw(st.integers(1, 3))}, {"x": {"shape": ["B", draw(st.integers(1, 24))]}})
    width = b.shape[-1]
    for _ in range(draw(st.integers(0, 2))):
        draw(st.sampled_from([draw_linear, draw_activation, draw_layer_norm]))(draw, b)
    draw_linear(draw, b, out_features=width)
    branch = b.cursor
    b.cursor = "x"
    draw(st.sampled_from([draw_dropout, lambda draw, b: b.add({"type": "Flatten"})]))(draw, b)
    b.add({"type": "Add"}, [branch, b.cursor])
    for _ in range(draw(st.integers(0, 2))):
        draw(st.sampled_from([draw_linear, draw_activation]))(draw, b)
    return b.spec


def specs() -> st.SearchStrategy[dict[str, Any]]:
    """Any of the above: chains and graphs, convolutional and token."""
    return st.one_of(cnn_specs(), token_specs(), cnn_specs(branches=True), token_specs(branches=True))
