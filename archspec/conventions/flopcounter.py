"""torch.utils.flop_counter.FlopCounterMode (PyTorch 2.14): aten-level, 2 FLOPs per MAC.

Rules from torch/utils/flop_counter.py (flop_registry: mm, addmm, bmm, baddbmm,
convolution and convolution_backward, the scaled_dot_product attention kernels). Nothing
else counts: no bias, norm, activation or pool FLOPs. The backward pass is counted as
autograd runs it: a weight gradient for every layer with weights, an input gradient
unless the input is an input of the model (which needs none).
"""

from __future__ import annotations

from archspec.conventions import Convention, Cost, Facts, attention_parts, define, each, mac, rnn_cells


def matmul_like(f: Facts) -> Cost:
    """2 * MACs of the convolution, linear, matmul or einsum (as mm / bmm / convolution); bias ignored"""
    return mac(f.own.macs)


def attention(f: Facts) -> Cost:
    """projections 2 * rows * in * out, plus scaled_dot_product_attention 4 * N * H * L * S * d (no causal discount)"""
    p = attention_parts(f)
    return mac(p.projection_macs() + p.score_macs())


def latent_attention(f: Facts) -> Cost:
    """the projections (kv_b_proj over every cached position too) + 2 * N * H * L * S * (qk + v), no causal discount"""
    dense = f.layer.model_copy(update={"causal_macs": False})
    return mac(dense.macs(*f.inputs, out=f.out))


def mamba(f: Facts) -> Cost:
    """in_proj, x_proj, dt_proj, out_proj as mm, C.h as bmm per step, and the conv as HuggingFace's torch
    path runs it: padded, L + K - 1 outputs (2 in a decode step), sliced to L"""
    layer = f.layer
    tokens, width, d, rank = layer._sizes(f.x)
    outputs = 2 if layer.past else f.x[1] + layer.d_conv - 1
    conv = f.x[0] * d * layer.d_conv * outputs
    matmuls = tokens * (2 * width * d + d * (rank + 2 * layer.d_state) + rank * d + d * layer.d_state + d * width)
    return mac(matmuls + conv)


def moe_gate(f: Facts) -> Cost:
    """the router's logits as mm: 2 * T * D * E"""
    return mac(f.own.macs)


def rnn_on_cpu(f: Facts) -> Cost:
    """RNN and GRU run as addmm per step on CPU: 2 * MACs (the fused LSTM kernel: 0)"""
    return mac(f.own.macs)


def _grads(f: Facts, forward: Cost) -> int:
    """A weight gradient and an input gradient, each as many FLOPs as the forward pass."""
    return forward.flops * (1 if f.inputs_without_grad[0] else 2)


def _conv_backward(f: Facts, forward: Cost) -> int:
    # convolution_backward's weight gradient is counted as a dense convolution: groups are
    # ignored, so a grouped or depthwise conv's weight gradient counts `groups` times its forward.
    groups = f.layer.groups
    input_grad = 0 if f.inputs_without_grad[0] else forward.flops
    return input_grad + forward.flops * groups


def _matmul_backward(f: Facts, forward: Cost) -> int:
    return sum(forward.flops for needs_no_grad in f.inputs_without_grad if not needs_no_grad)


def _attention_backward(f: Facts, forward: Cost) -> int:
    p = attention_parts(f)
    query = 2 * p.lead * p.queries * p.query_dim * p.heads * p.head_dim
    key_value = 2 * p.lead * p.keys * p.kv_heads * (p.key_dim * p.head_dim + p.value_dim * p.value_head_dim)
    out = 2 * p.lead * p.queries * p.heads * p.value_head_dim * p.out_dim
    # weight gradients of the four projections, input gradients of those whose input needs one
    weights = query + key_value + out
    inputs = (0 if f.inputs_without_grad[0] else query) + (0 if f.inputs_without_grad[-1] else key_value) + out
    # flash / efficient attention backward (torch's sdpa_backward_flop_count): five batched
    # products, the scores again and dQ, dK over head_dim, dScores and dV over v_head_dim
    # (2.5x the forward when the two dims are equal)
    return weights + inputs + 2 * p.lead * p.heads * p.pairs * (3 * p.head_dim + 2 * p.value_head_dim)


def _rnn_backward(f: Facts, forward: Cost) -> int:
    layer = f.layer
    directions = 2 if layer.bidirectional else 1
    gates = layer.gates
    out = getattr(layer, "proj_size", 0) or layer.hidden_size
    skipped = 0
    if f.inputs_without_grad[0]:  # the first layer's input projection needs no input gradient
        skipped += 2 * rnn_cells(f) * f.x[-1] * gates * layer.hidden_size * directions
    # the initial hidden state is zeros that need no gradient: one step per layer and direction
    batch = layer._split(f.x)[0]
    skipped += 2 * batch * out * gates * layer.hidden_size * layer.num_layers * directions
    return 2 * forward.flops - skipped


BACKWARD = {
    **each("Conv*d ConvTranspose*d", _conv_backward),
    "Linear": _grads,
    **each("Matmul Einsum", _matmul_backward),
    **each("Attention MultiheadAttention", _attention_backward),
    **each("RNN GRU", _rnn_backward),
}


def backward(f: Facts, forward: Cost) -> int:
    """FLOPs of the gradients autograd computes for this layer."""
    rule = BACKWARD.get(f.layer.type)
    return rule(f, forward) if rule is not None and forward.flops else 0


FLOPCOUNTER = define(
    Convention(
        name="flopcounter",
        summary="torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per MAC of conv, linear, matmul and "
        "attention; nothing else; backward as autograd runs it",
        peer="PyTorch 2.14 torch.utils.flop_counter",
        source="torch/utils/flop_counter.py",
        prints="flops",
        rules={
            **each("Conv*d ConvTranspose*d Linear Matmul Einsum", matmul_like),
            **each("Attention MultiheadAttention", attention),
            "LatentAttention": latent_attention,
            "Mamba": mamba,
            "MoE": moe_gate,
            **each("RNN GRU", rnn_on_cpu),
        },
        backward=backward,
        bugs={
            **each("Conv*d ConvTranspose*d", "backward: the weight gradient of a grouped conv is counted as dense (x groups)"),
            "Attention": "on CPU the fused flash kernel is not in the registry: attention matmuls count 0 (pytorch#195460)",
            "MultiheadAttention": "on CPU the fused flash kernel is not in the registry: attention matmuls count 0",
            "LSTM": "the fused LSTM kernel (oneDNN on CPU) counts 0",
        },
    )
)
