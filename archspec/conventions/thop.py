"""thop (ultralytics-thop 2.2.3): module forward hooks, plus matrix products called functionally.

Rules transcribed from thop/vision/basic_hooks.py, thop/vision/calc_func.py,
thop/rnn_hooks.py and thop/profile.py (register_hooks, functional_hooks) of
ultralytics-thop 2.2.3. A rule is found by walking the module's class hierarchy, so a
subclass is counted like its base. Functional matmul, einsum, linear and
scaled_dot_product_attention calls are counted through a TorchFunctionMode, which
sees operators (`a @ b`) too.
"""

from __future__ import annotations

from archspec.conventions import (
    Convention,
    Cost,
    Facts,
    attention_parts,
    define,
    each,
    hooked,
    is_affine,
    mac,
    rnn_cells,
)
from archspec.dims import Value, ceildiv, floordiv, is_concrete, product
from archspec.errors import LayerError


def conv(f: Facts) -> Cost:
    """numel(out) * C_in/groups * prod(kernel) (ConvTranspose: numel(in) * C_out/groups * prod(kernel)); bias ignored"""
    return mac(f.own.macs)


def linear(f: Facts) -> Cost:
    """in_features * numel(out); bias ignored"""
    return mac(f.x[-1] * f.numel_out)


def normalization(f: Facts) -> Cost:
    """2 * numel(in), twice that with affine parameters"""
    return mac(2 * f.numel_in * (2 if is_affine(f.layer) else 1))


def softmax(f: Facts) -> Cost:
    """rows * (3F - 1): F exps, F - 1 adds and F divides per row of F features"""
    dim = f.layer.dim_index(f.x)
    features = f.x[dim]
    return mac(f.numel_in // features * (3 * features - 1))


def _window_sum(size: Value, out: Value, kernel: Value, stride: Value, pad: Value, f: Facts) -> Value:
    """Input elements summed by the windows along one dim, clipped to the input (or the padded input)."""
    if is_concrete(pad) and pad == 0 and not f.layer.ceil_mode:
        return out * kernel  # every window lies inside the input
    if not all(is_concrete(v) for v in (size, out, kernel, stride, pad)):
        raise LayerError("the thop profile counts padded average-pool windows one by one, which needs concrete sizes (--set)")
    lower, upper = (-pad, size + pad) if f.layer.count_include_pad else (0, size)
    return sum(max(min(i * stride - pad + kernel, upper) - max(i * stride - pad, lower), 0) for i in range(out))


def avg_pool(f: Facts) -> Cost:
    """one add per input element of each window (clipped to the input) + one divide per output"""
    layer, n = f.layer, f.layer.spatial_dims
    stride = layer.stride or layer.kernel_size
    windows = product(
        _window_sum(size, out, k, s, p, f)
        for size, out, k, s, p in zip(f.x[-n:], f.out[-n:], layer.kernel_size, stride, layer.padding)
    )
    return mac(product(f.x[:-n]) * windows + f.numel_out)


def _adaptive_window_sum(size: Value, out: Value) -> Value:
    if is_concrete(size) and is_concrete(out):
        if size == out:
            return out
        return sum(ceildiv((j + 1) * size, out) - floordiv(j * size, out) for j in range(out))
    if is_concrete(out) and out == 1:
        return size
    raise LayerError("the thop profile counts adaptive-pool windows one by one, which needs concrete sizes (--set)")


def adaptive_avg_pool(f: Facts) -> Cost:
    """one add per input element of each adaptive window + one divide per output"""
    n = f.layer.spatial_dims
    windows = product(_adaptive_window_sum(size, out) for size, out in zip(f.x[-n:], f.out[-n:]))
    return mac(product(f.x[:-n]) * windows + f.numel_out)


_UPSAMPLE_OPS = {"nearest": 0, "nearest-exact": 0, "linear": 5, "bilinear": 11, "bicubic": 259, "trilinear": 31}


def upsample(f: Facts) -> Cost:
    """per output element: nearest 0, linear 5, bilinear 11, bicubic 259, trilinear 31"""
    return mac(_UPSAMPLE_OPS[f.layer.mode] * f.numel_out)


def _cell(kind: str, i: Value, h: Value, bias: bool, proj: Value = 0) -> Value:
    """thop's per-step count of one cell (rnn_hooks._count_*_cell)."""
    if kind == "RNN":
        return h * (i + h) + h + (2 * h if bias else 0)
    if kind == "GRU":
        state = (h + i) * h + h + (2 * h if bias else 0)
        return 2 * state + (h + i) * h + h + (2 * h if bias else 0) + h + 3 * h
    rec = proj or h
    return 4 * ((i + rec) * h + h + (2 * h if bias else 0)) + 3 * h + h + h * proj


def recurrent(f: Facts) -> Cost:
    """per cell evaluation and direction: the gate products (I + H) * H + H (+ 2H bias) per gate, plus the gate arithmetic (rnn_hooks.py)"""
    layer = f.layer
    proj = getattr(layer, "proj_size", 0)
    directions = 2 if layer.bidirectional else 1
    per_step = directions * layer.over_layers(f.x[-1], lambda i, _: _cell(layer.type, i, layer.hidden_size, layer.bias, proj))
    return mac(per_step * rnn_cells(f))


def multihead_attention(f: Facts) -> Cost:
    """N * [E * (2 L E + S (kdim + vdim)) + 2 L S E] + softmax rows N*H*L of S (3S - 1); biases ignored"""
    p = attention_parts(f)
    e = p.heads * p.head_dim
    projections = e * (2 * p.queries * e + p.keys * (p.key_dim + p.value_dim))
    scores = 2 * p.queries * p.keys * e
    softmax_ops = p.lead * p.heads * p.queries * (3 * p.keys - 1)
    return mac(p.lead * (projections + scores) + softmax_ops)


def attention(f: Facts) -> Cost:
    """q, k, v, o projections as nn.Linear modules + scaled_dot_product_attention: N*H*L*S*(d_qk + d_v)"""
    p = attention_parts(f)
    return mac(p.projection_macs() + p.score_macs())


def matmul(f: Facts) -> Cost:
    """numel(out) * contracted size"""
    return mac(f.numel_out * f.x[-1])


def einsum(f: Facts) -> Cost:
    """product of the sizes of labels both operands share or the output keeps (two operands; one operand: 0)"""
    if len(f.inputs) != 2:
        return Cost()
    sizes, terms, output = f.layer.label_sizes(*f.inputs)
    kept = [label for label in sizes if all(label in t for t in terms) or label in output]
    return mac(product(sizes[label] for label in kept))


THOP = define(
    Convention(
        name="thop",
        summary="thop.profile: module hooks (conv, linear, norms, softmax, avg pools, upsample, RNNs, "
        "MultiheadAttention) plus functional matmul/einsum/SDPA; ReLU, max pools, GELU, SiLU count 0",
        peer="ultralytics-thop 2.2.3",
        source="thop/vision/basic_hooks.py, thop/vision/calc_func.py, thop/rnn_hooks.py, thop/profile.py",
        prints="macs",
        rules={
            **each("Conv*d ConvTranspose*d", hooked(conv)),
            "Linear": linear,  # a functional F.linear is counted the same way
            **each("BatchNorm*d InstanceNorm*d LayerNorm GroupNorm RMSNorm", hooked(normalization)),
            "Softmax": hooked(softmax),
            **each("AvgPool*d", hooked(avg_pool)),
            **each("AdaptiveAvgPool*d", hooked(adaptive_avg_pool)),
            **each("Upsample Interpolate", hooked(upsample)),
            **each("RNN GRU LSTM", hooked(recurrent)),
            "MultiheadAttention": multihead_attention,
            "Attention": attention,
            "Matmul": matmul,
            "Einsum": einsum,
        },
    )
)
