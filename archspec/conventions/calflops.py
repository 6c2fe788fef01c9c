"""calflops 0.3.2 and the DeepSpeed 0.19 flops profiler, which calflops was copied from.

Both patch torch.nn.functional (linear, conv, conv_transpose, relu, prelu, elu,
leaky_relu, relu6, silu, gelu, the norms, the pools, interpolate, softmax, embedding) and
torch.matmul / Tensor.matmul / addmm / mul / add / einsum, and hook RNN modules. A
patched function is counted wherever it is called from, inside a module or not; a
function without a patch (sigmoid, tanh, hardswish, hardtanh, which nn.ReLU6 calls) and
the `+` and `*` operators count 0. They print FLOPs and MACs: a multiply-accumulate is
2 FLOPs; bias adds, activations, norms and pools add FLOPs but no MACs.
Rules from calflops/pytorch_ops.py and deepspeed/profiling/flops_profiler/profiler.py.
DeepSpeed also patches `Tensor.__matmul__`, mm, bmm and scaled_dot_product_attention,
and has calflops' transposed-conv and upsample bugs fixed.
"""

from __future__ import annotations

from fractions import Fraction

from archspec.conventions import (
    Convention,
    Cost,
    Facts,
    attention_parts,
    cell_arithmetic,
    conv_bias_adds,
    define,
    each,
    flop,
    is_affine,
    mac,
    numpy_einsum_flop,
    rnn_cells,
)
from archspec.dims import Value, floordiv, product


def _called(f: Facts) -> bool:
    """Whether a patched torch.nn.functional function runs: a module calls it, or the spec calls it."""
    return f.call != "operator"


def linear(f: Facts) -> Cost:
    """F.linear: MACs rows * in * out, FLOPs 2 * MACs; bias ignored"""
    return mac(f.own.macs) if _called(f) else Cost()


def conv(f: Facts) -> Cost:
    """MACs numel(out) * C_in/groups * prod(kernel); FLOPs 2 * MACs + numel(out) for the bias"""
    return mac(f.own.macs) + flop(conv_bias_adds(f)) if _called(f) else Cost()


def conv_transpose(f: Facts) -> Cost:
    """MACs numel(in) * (C_out/groups)/groups * prod(kernel); FLOPs 2 * MACs + bias over a forward conv's output size"""
    layer, n = f.layer, f.layer.spatial_dims
    per_group = floordiv(layer.out_channels, layer.groups)
    macs = f.numel_in * floordiv(per_group, layer.groups) * product(layer.kernel_size)
    bias = 0
    if layer.bias:
        dims = [
            floordiv(size + 2 * p - (d * (k - 1) + 1), s) + 1
            for size, k, s, p, d in zip(f.x[-n:], layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        ]
        bias = per_group * f.x[0] * product(dims)
    return mac(macs) + flop(bias)


def conv_transpose_fixed(f: Facts) -> Cost:
    """MACs numel(in) * C_out/groups * prod(kernel); FLOPs 2 * MACs + numel(out) for the bias"""
    return mac(f.own.macs) + flop(conv_bias_adds(f))


def activation(f: Facts) -> Cost:
    """FLOPs numel(in) (the module calls the patched F.relu / leaky_relu / gelu / silu)"""
    return flop(f.numel_in) if _called(f) else Cost()


def relu6(f: Facts) -> Cost:
    """F.relu6: FLOPs numel(in); nn.ReLU6 calls F.hardtanh, which is not patched: 0"""
    return flop(f.numel_in) if f.call == "function" else Cost()


def batch_norm(f: Facts) -> Cost:
    """eval: FLOPs numel(in), twice that with affine parameters"""
    return flop(f.numel_in * (2 if is_affine(f.layer) else 1)) if _called(f) else Cost()


def norm(f: Facts) -> Cost:
    """FLOPs numel(in) * 5 with affine parameters, * 4 without"""
    return flop(f.numel_in * (5 if is_affine(f.layer) else 4)) if _called(f) else Cost()


def pool(f: Facts) -> Cost:
    """FLOPs numel(in)"""
    return flop(f.numel_in) if _called(f) else Cost()


def softmax(f: Facts) -> Cost:
    """FLOPs numel(in)"""
    return flop(f.numel_in) if _called(f) else Cost()


def _size_given(f: Facts) -> Value:
    size = f.layer.size
    return product(size) if isinstance(size, tuple) else size


def upsample(f: Facts) -> Cost:
    """F.interpolate: FLOPs prod(size) (N and C dropped), or numel(in) (the scale factor is never applied)"""
    if not _called(f):
        return Cost()
    return flop(_size_given(f) if f.layer.size is not None else f.numel_in)


def upsample_fixed(f: Facts) -> Cost:
    """F.interpolate: FLOPs prod(size) (N and C dropped), or numel(in) * prod(scale factors)"""
    if not _called(f):
        return Cost()
    if f.layer.size is not None:
        return flop(_size_given(f))
    scale = f.layer.scale_factor
    dims = len(f.x) - 2
    factor = product(Fraction(str(s)) for s in scale) if isinstance(scale, (list, tuple)) else Fraction(str(scale)) ** dims
    return flop(f.numel_in * factor)


def _cell(layer, i: Value) -> Value:
    h = layer.hidden_size
    out = getattr(layer, "proj_size", 0) or h
    gates = layer.gates
    products = (2 * gates * h * i - gates * h) + (2 * gates * h * out - gates * h)
    return products + cell_arithmetic(layer) + (2 * gates * h if layer.bias else 0)


def recurrent(f: Facts) -> Cost:
    """FLOPs per layer (2|W_ih| - 4H) + (2|W_hh| - 4H) (per gate block) + cell arithmetic + biases, * dims 0 and 1 of the input * directions; MACs 0"""
    layer = f.layer
    directions = 2 if layer.bidirectional else 1
    return flop(layer.over_layers(f.x[-1], lambda i, _: _cell(layer, i)) * rnn_cells(f) * directions)


def projections(f: Facts) -> Cost:
    """the projections through the patched F.linear (bias ignored); scaled_dot_product_attention is not patched: 0"""
    return mac(attention_parts(f).projection_macs())


def attention_with_sdpa(f: Facts) -> Cost:
    """the projections through F.linear (bias ignored) + scaled_dot_product_attention N*H*L*S*(d + d_v) MACs"""
    p = attention_parts(f)
    return mac(p.projection_macs() + p.score_macs())


def elementwise(f: Facts) -> Cost:
    """torch.add / torch.mul and tensor methods: FLOPs numel of the broadcast shape; + and *: 0"""
    return flop(f.numel_out) if f.call == "function" else Cost()


def matmul(f: Facts) -> Cost:
    """torch.matmul / Tensor.matmul: MACs numel(first input) * last dim of the second; the @ operator: 0"""
    return mac(f.numel_in * f.inputs[1][-1]) if f.call == "function" else Cost()


def matmul_any(f: Facts) -> Cost:
    """torch.matmul, Tensor.matmul and the @ operator: MACs numel(first input) * last dim of the second"""
    return mac(f.numel_in * f.inputs[1][-1])


def einsum(f: Facts) -> Cost:
    """FLOPs = numpy's optimal einsum path 'optimized flop'; MACs 0"""
    return flop(numpy_einsum_flop(f))


def backward(f: Facts, forward: Cost) -> Value:
    """include_backPropagation: the forward count times compute_bp_factor (2.0)."""
    return 2 * forward.flops


_SHARED = {
    **each("Conv*d", conv),
    "Linear": linear,
    **each("ReLU LeakyReLU GELU SiLU", activation),
    "ReLU6": relu6,
    **each("BatchNorm*d", batch_norm),
    **each("LayerNorm GroupNorm InstanceNorm*d", norm),
    **each("MaxPool*d AvgPool*d AdaptiveAvgPool*d AdaptiveMaxPool*d", pool),
    "Softmax": softmax,
    **each("RNN GRU LSTM", recurrent),
    **each("Add Mul", elementwise),
    "Einsum": einsum,
}

CALFLOPS = define(
    Convention(
        name="calflops",
        summary="calflops calculate_flops: patched torch.nn.functional; FLOPs = 2 MACs + bias, activation, norm "
        "and pool FLOPs; attention matmuls (SDPA, @) count 0",
        peer="calflops 0.3.2",
        source="calflops/pytorch_ops.py, calflops/flops_counter.py",
        prints="macs and flops",
        rules={
            **_SHARED,
            **each("ConvTranspose*d", conv_transpose),
            **each("Upsample Interpolate", upsample),
            **each("Attention MultiheadAttention", projections),
            "Matmul": matmul,
        },
        backward=backward,
        bugs={
            **each("ConvTranspose*d", "divides by groups twice; the bias is counted over a forward conv's output size"),
            "Upsample": "the scale factor is never applied (FLOPs = numel(in)); with size, N and C are dropped",
            "Attention": "scaled_dot_product_attention is not patched: attention matmuls count 0 (calflops#26)",
            "MultiheadAttention": "scaled_dot_product_attention is not patched: attention matmuls count 0",
            "RNN": "MACs 0: the recurrent hook reports FLOPs only (calflops#55)",
            "GRU": "MACs 0: the recurrent hook reports FLOPs only (calflops#55)",
            "LSTM": "MACs 0: the recurrent hook reports FLOPs only",
            "Einsum": "MACs 0: only FLOPs are reported",
            "ReLU6": "nn.ReLU6 calls F.hardtanh, which is not patched: 0",
        },
    )
)

DEEPSPEED = define(
    Convention(
        name="deepspeed",
        summary="DeepSpeed flops profiler (get_model_profile): calflops' rules, plus @, mm, bmm and "
        "scaled_dot_product_attention, with transposed convs and upsampling counted correctly",
        peer="deepspeed 0.19.8",
        source="deepspeed/profiling/flops_profiler/profiler.py",
        prints="macs and flops",
        rules={
            **_SHARED,
            **each("ConvTranspose*d", conv_transpose_fixed),
            **each("Upsample Interpolate", upsample_fixed),
            **each("Attention MultiheadAttention", attention_with_sdpa),
            "Matmul": matmul_any,
        },
        backward=backward,
        bugs={
            "Upsample": "with size, N and C are dropped (FLOPs = prod(size))",
            "RNN": "MACs 0: the recurrent hook reports FLOPs only",
            "GRU": "MACs 0: the recurrent hook reports FLOPs only",
            "LSTM": "MACs 0: the recurrent hook reports FLOPs only",
            "ReLU6": "nn.ReLU6 calls F.hardtanh, which is not patched: 0",
        },
    )
)
