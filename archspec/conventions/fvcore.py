"""fvcore 0.1.5 FlopCountAnalysis: handlers per traced aten op, one fused multiply-add = one "flop".

Rules from fvcore/nn/flop_count.py (_DEFAULT_SUPPORTED_OPS) and fvcore/nn/jit_handles.py.
Every other op is unsupported or ignored and counts 0: activations, pooling other than
adaptive_avg_pool2d, softmax, elementwise add/mul, embedding, fused RNNs, and fused
scaled_dot_product_attention. Batch norm is counted in eval mode, as the model is
traced for counting.
"""

from __future__ import annotations

from fractions import Fraction

from archspec.conventions import (
    Convention,
    Cost,
    Facts,
    attention_parts,
    define,
    each,
    is_affine,
    mac,
    numpy_einsum_flop,
)


def conv(f: Facts) -> Cost:
    """N * prod(weight) * prod(out spatial) (transposed: prod(in spatial)); bias ignored"""
    return mac(f.own.macs)


def linear(f: Facts) -> Cost:
    """numel(in) * out_features; bias ignored"""
    return mac(f.numel_in * f.out[-1])


def batch_norm(f: Facts) -> Cost:
    """eval: numel(in), twice that with affine parameters"""
    return mac(f.numel_in * (2 if is_affine(f.layer) else 1))


def norm(f: Facts) -> Cost:
    """numel(in) * 5 with affine parameters, * 4 without"""
    return mac(f.numel_in * (5 if is_affine(f.layer) else 4))


def adaptive_avg_pool2d(f: Facts) -> Cost:
    """numel(in)"""
    return mac(f.numel_in)


def upsample(f: Facts) -> Cost:
    """upsample_nearest2d: numel(out); upsample_bilinear2d: 4 * numel(out); other modes and dims: 0"""
    if len(f.x) != 4:
        return Cost()
    return mac({"nearest": 1, "bilinear": 4}.get(f.layer.mode, 0) * f.numel_out)


def projections(f: Facts) -> Cost:
    """the q, k, v, o projections (aten::linear, no bias); fused scaled_dot_product_attention: 0"""
    return mac(attention_parts(f).projection_macs())


def matmul(f: Facts) -> Cost:
    """numel(first input) * last dim of the second"""
    return mac(f.numel_in * f.inputs[1][-1])


def einsum(f: Facts) -> Cost:
    """floor(numpy's printed 'Optimized FLOP count' / 2): the flop (prod of all label sizes, twice when a label is
    summed away) as numpy's einsum_path report prints it, %.3e, 4 significant digits"""
    flop = numpy_einsum_flop(f)
    if not isinstance(flop, int):
        return mac(flop // 2)  # a formula: fvcore's rounding applies to numbers only
    return mac(int(Fraction(f"{flop:.3e}") // 2))


FVCORE = define(
    Convention(
        name="fvcore",
        summary="fvcore FlopCountAnalysis: conv, linear, matmul, einsum, norms, adaptive_avg_pool2d and 2-D "
        "upsampling; one multiply-add is one 'flop'; biases, activations, max pools and SDPA count 0",
        peer="fvcore 0.1.5.post20221221",
        source="fvcore/nn/flop_count.py, fvcore/nn/jit_handles.py",
        prints="macs",
        rules={
            **each("Conv*d ConvTranspose*d", conv),
            "Linear": linear,
            **each("BatchNorm*d", batch_norm),
            **each("LayerNorm GroupNorm InstanceNorm*d", norm),
            "AdaptiveAvgPool2d": adaptive_avg_pool2d,
            **each("Upsample Interpolate", upsample),
            **each("Attention MultiheadAttention", projections),
            "Matmul": matmul,
            "Einsum": einsum,
        },
        bugs={
            "Attention": "aten::scaled_dot_product_attention is unsupported: the attention matmuls count 0",
            "MultiheadAttention": "aten::scaled_dot_product_attention is unsupported: the attention matmuls count 0",
            "LSTM": "the fused aten::lstm is unsupported: 0 (fvcore#98)",
            "GRU": "the fused aten::gru is unsupported: 0",
            "RNN": "the fused aten::rnn_tanh is unsupported: 0",
            **each("AvgPool*d AdaptiveAvgPool1d AdaptiveAvgPool3d", "unsupported aten op: 0"),
        },
    )
)
