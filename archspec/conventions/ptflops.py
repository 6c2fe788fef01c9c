"""ptflops 0.7.5, both backends.

pytorch backend (ptflops/pytorch_ops.py, pytorch_engine.py): forward hooks on modules
whose type is exactly in MODULES_MAPPING, plus patched torch.nn.functional calls (relu,
gelu, silu, relu6, elu, prelu, the pools, softmax, interpolate) and tensor ops
(torch.matmul/mm/bmm/addmm/baddbmm/add/mul and their tensor methods; not the `+`, `*`,
`@` operators). A module whose forward calls a patched function is counted twice: nn.ReLU,
nn.GELU, the pools and nn.Upsample. Module counts are divided by the first dim of the
model's input (ptflops' "batch"); functional counts are not.

aten backend (ptflops/aten_ops.py): a TorchDispatchMode counting aten mm, matmul, addmm,
bmm and convolution only, biases included.
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
    is_affine,
    linear_bias_adds,
    mac,
    rnn_cells,
)

from archspec.dims import Value, is_concrete, product, to_exact


def _per_sample(f: Facts, count: Value) -> Cost:
    """A module hook's count: ptflops divides it by the batch (the input's first dim)."""
    if f.call != "module":
        return Cost()  # MODULES_MAPPING matches the exact type only
    if is_concrete(count) and is_concrete(f.batch):
        return mac(to_exact(Fraction(int(count), int(f.batch))))  # exact: ptflops' float, without rounding
    return mac(count / f.batch)


def _functional(f: Facts, count: Value, module_calls_it: bool = True) -> Cost:
    """A patched function's count: a direct call, or (module_calls_it) the module's forward calling it."""
    if f.call == "function" or (module_calls_it and f.call in ("module", "subclass")):
        return mac(count)
    return Cost()


def conv(f: Facts) -> Cost:
    """module: numel(out) * C_in/groups * prod(kernel) (transposed: numel(in) * C_out/groups * prod(kernel)) + numel(out) for the bias"""
    return _per_sample(f, f.own.macs + conv_bias_adds(f))


def linear(f: Facts) -> Cost:
    """module: rows * (in * out + out with a bias)"""
    return _per_sample(f, f.own.macs + linear_bias_adds(f))


def relu_like(f: Facts) -> Cost:
    """module: numel(out), plus numel(in) again from the patched F.relu / F.gelu it calls; F.relu alone: numel(in)"""
    return _per_sample(f, f.numel_out) + _functional(f, f.numel_in)


def module_activation(f: Facts) -> Cost:
    """module: numel(out) (its functional form is not patched)"""
    return _per_sample(f, f.numel_out)


def relu6(f: Facts) -> Cost:
    """module: numel(out) (nn.ReLU6 calls F.hardtanh, not patched); F.relu6: numel(in)"""
    return _per_sample(f, f.numel_out) + _functional(f, f.numel_in, module_calls_it=False)


def silu(f: Facts) -> Cost:
    """numel(in), from the patched F.silu (nn.SiLU itself has no hook)"""
    return _functional(f, f.numel_in)


def pool(f: Facts) -> Cost:
    """module: numel(in), plus numel(in) again from the patched F.*pool* it calls; the function alone: numel(in)"""
    return _per_sample(f, f.numel_in) + _functional(f, f.numel_in)


def batch_norm(f: Facts) -> Cost:
    """module: numel(in), twice that with affine parameters"""
    return _per_sample(f, f.numel_in * (2 if is_affine(f.layer) else 1))


def layer_norm(f: Facts) -> Cost:
    """module: numel(in) (ptflops reads `affine`, which LayerNorm does not have)"""
    return _per_sample(f, f.numel_in)


def softmax(f: Facts) -> Cost:
    """numel(in), from the patched F.softmax (nn.Softmax has no hook)"""
    return _functional(f, f.numel_in)


def _interpolate(f: Facts) -> Value:
    layer, x = f.layer, f.x
    spatial = len(x) - 2
    if layer.size is not None:
        size = layer.size if isinstance(layer.size, tuple) else None
        return product(x[:2]) * (product(size) if size else layer.size**spatial)
    scale = layer.scale_factor
    if isinstance(scale, (list, tuple)) and len(scale) == spatial:
        return f.numel_in * product(int(s) for s in scale)
    return f.numel_in * Fraction(str(scale)) ** spatial


def upsample(f: Facts) -> Cost:
    """module: numel(out), plus F.interpolate's N*C*prod(size), or numel(in) * scale^dims"""
    return _per_sample(f, f.numel_out) + _functional(f, _interpolate(f))


def _cell(layer, i: Value, h: Value) -> Value:
    out = getattr(layer, "proj_size", 0) or h
    gates = layer.gates
    return gates * h * i + gates * h * out + cell_arithmetic(layer) + (2 * gates * h if layer.bias else 0)


def recurrent(f: Facts) -> Cost:
    """module: (weights W_ih and W_hh + per-cell arithmetic (RNN H, GRU 7H, LSTM 10H) + biases) * dim0 * dim1 of the input, * 2 bidirectional"""
    layer = f.layer
    directions = 2 if layer.bidirectional else 1
    per_step = layer.over_layers(f.x[-1], lambda i, _: _cell(layer, i, layer.hidden_size))
    return _per_sample(f, per_step * product(f.x[:2]) * directions)


def multihead_attention(f: Facts) -> Cost:
    """module: N * [L*E (scaling) + L*E^2 + S*kdim^2 + S*vdim^2 + (L + 2S)*E biases + H*(2*L*S*d + L*S) + L*E*(E + 1)]"""
    p = attention_parts(f)
    e = p.query_dim
    count = p.queries * e + p.queries * e * e + p.keys * p.key_dim**2 + p.keys * p.value_dim**2
    count += (p.queries + 2 * p.keys) * e if p.qkv_bias else 0
    count += p.heads * (p.queries * p.keys * p.head_dim * 2 + p.queries * p.keys)
    count += p.queries * p.value_dim * (p.value_dim + 1)
    return _per_sample(f, p.lead * count)


def attention(f: Facts) -> Cost:
    """the q, k, v, o nn.Linear modules: rows * (in * out + out with a bias); scaled_dot_product_attention is not patched"""
    p = attention_parts(f)
    return _per_sample(f, p.projection_macs() + p.bias_adds()) if f.call in ("module", "subclass") else Cost()


def elementwise(f: Facts) -> Cost:
    """torch.add / torch.mul and tensor methods: numel of the broadcast shape; the + and * operators: 0"""
    return mac(f.numel_out) if f.call == "function" else Cost()


def matmul(f: Facts) -> Cost:
    """torch.matmul and tensor methods: numel(first input) * last dim of the second; the @ operator: 0"""
    return mac(f.numel_in * f.inputs[1][-1]) if f.call == "function" else Cost()


PTFLOPS_PYTORCH = define(
    Convention(
        name="ptflops-pytorch",
        summary="ptflops, default backend: module hooks + patched functionals; ReLU, GELU, pools and Upsample "
        "counted twice (module hook and the functional it calls); biases counted",
        peer="ptflops 0.7.5 (backend='pytorch')",
        source="ptflops/pytorch_ops.py, ptflops/pytorch_engine.py",
        prints="macs",
        rules={
            **each("Conv*d ConvTranspose*d", conv),
            "Linear": linear,
            **each("ReLU GELU", relu_like),
            "LeakyReLU": module_activation,
            "ReLU6": relu6,
            "SiLU": silu,
            **each("MaxPool*d AvgPool*d AdaptiveAvgPool*d AdaptiveMaxPool*d", pool),
            **each("BatchNorm*d InstanceNorm*d GroupNorm", batch_norm),
            "LayerNorm": layer_norm,
            "Softmax": softmax,
            **each("Upsample Interpolate", upsample),
            **each("RNN GRU LSTM", recurrent),
            "MultiheadAttention": multihead_attention,
            "Attention": attention,
            **each("Add Mul", elementwise),
            "Matmul": matmul,
        },
        bugs={
            "ReLU": "counted twice: the nn.ReLU hook and the patched F.relu it calls",
            "GELU": "counted twice: the nn.GELU hook and the patched F.gelu it calls",
            **each(
                "MaxPool*d AvgPool*d AdaptiveAvgPool*d AdaptiveMaxPool*d",
                "counted twice: the module hook and the patched F.*pool* function it calls",
            ),
            "Upsample": "counted twice: the module hook and the patched F.interpolate it calls",
            "MultiheadAttention": "squares kdim and vdim (right only when both equal embed_dim)",
            "LayerNorm": "never counts the affine part: reads `affine`, LayerNorm's flag is `elementwise_affine`",
            "GRU": "module counts are divided by the input's first dim, which is the sequence length without batch_first",
            "LSTM": "module counts are divided by the input's first dim, which is the sequence length without batch_first",
        },
    )
)


def aten_conv(f: Facts) -> Cost:
    """aten.convolution: N * prod(weight) * prod(out spatial) (transposed: prod(in spatial)) + numel(out) bias"""
    return mac(f.own.macs + conv_bias_adds(f))


def aten_linear(f: Facts) -> Cost:
    """aten.addmm / mm: rows * in * out + rows * out with a bias"""
    return mac(f.own.macs + linear_bias_adds(f))


def aten_projections(f: Facts) -> Cost:
    """the projections as addmm / mm (biases included); fused scaled_dot_product_attention: 0"""
    p = attention_parts(f)
    return mac(p.projection_macs() + p.bias_adds())


def aten_matmul(f: Facts) -> Cost:
    """aten.matmul / bmm: numel(out) * contracted size"""
    return mac(f.own.macs)


def aten_rnn(f: Facts) -> Cost:
    """RNN and GRU on CPU run as addmm per step: MACs + 2 * gates * H bias adds per cell (the LSTM kernel is fused: 0)"""
    layer = f.layer
    directions = 2 if layer.bidirectional else 1
    gates = layer.gates
    biases = 2 * gates * layer.hidden_size * layer.num_layers * directions * rnn_cells(f) if layer.bias else 0
    return mac(f.own.macs + biases)


PTFLOPS_ATEN = define(
    Convention(
        name="ptflops-aten",
        summary="ptflops, aten backend: aten mm, matmul, addmm, bmm and convolution only, biases included",
        peer="ptflops 0.7.5 (backend='aten')",
        source="ptflops/aten_ops.py, ptflops/aten_engine.py",
        prints="macs",
        rules={
            **each("Conv*d ConvTranspose*d", aten_conv),
            "Linear": aten_linear,
            **each("Attention MultiheadAttention", aten_projections),
            **each("Matmul Einsum", aten_matmul),
            **each("RNN GRU", aten_rnn),
        },
        bugs={
            "Attention": "fused scaled_dot_product_attention counts 0 (only mm/bmm/addmm/matmul/convolution are counted)",
            "MultiheadAttention": "fused scaled_dot_product_attention counts 0",
            "LSTM": "the fused (oneDNN) LSTM kernel counts 0",
        },
    )
)
