"""Attention: a general multi-head / grouped-query / multi-query layer, and torch.nn.MultiheadAttention.

Both count the same parts (docs/counting.md), kept apart so that formulas show them:
the projections (linear in the sequence length), and the two matmuls over the score
matrix, Q K^T and softmax(.) V (quadratic: L x S per head).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from pydantic import Field

from archspec.dims import Value, definitely_equal, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import Layer, Saved, Shape, Size, exact_div, format_shape


@dataclass(frozen=True)
class AttentionParts:
    """Sizes of one attention: `lead` batch elements, L queries, S keys, H query heads of
    head_dim, kv_heads key/value heads, model dims of the query, key and value inputs."""

    lead: Value
    queries: Value
    keys: Value
    heads: Value
    kv_heads: Value
    head_dim: Value
    query_dim: Value
    key_dim: Value
    value_dim: Value
    out_dim: Value
    qkv_bias: bool
    out_bias: bool
    causal_pairs: bool = False  # count only the L(L+1)/2 unmasked (query, key) pairs

    @property
    def pairs(self) -> Value:
        """(query, key) pairs scored per head."""
        return self.queries * (self.queries + 1) // 2 if self.causal_pairs else self.queries * self.keys

    def params(self) -> Value:
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        weights = self.query_dim * q + self.key_dim * kv + self.value_dim * kv + q * self.out_dim
        biases = (q + 2 * kv if self.qkv_bias else 0) + (self.out_dim if self.out_bias else 0)
        return weights + biases

    def projection_macs(self) -> Value:
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        return self.lead * (self.queries * self.query_dim * q + self.keys * (self.key_dim + self.value_dim) * kv + self.queries * q * self.out_dim)

    def score_macs(self) -> Value:
        """Q K^T and the weighted sum of V: 2 * pairs * head_dim per head."""
        return 2 * self.lead * self.heads * self.pairs * self.head_dim

    def bias_adds(self) -> Value:
        """One add per output element of each projection that has a bias."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        return (self.lead * (self.queries * q + 2 * self.keys * kv) if self.qkv_bias else 0) + (
            self.lead * self.queries * self.out_dim if self.out_bias else 0
        )

    def other_flops(self) -> Value:
        rows = self.lead * self.heads * self.queries
        scores = self.lead * self.heads * self.pairs
        # scale each score by 1/sqrt(head_dim); softmax: 5 per score - 2 per row (as Softmax)
        return self.bias_adds() + scores + 5 * scores - 2 * rows

    def saved(self, path: str, dropout: float = 0.0, packed: bool = False, inputs: int = 1) -> tuple[Saved, ...]:
        """What autograd keeps: the `inputs` inputs (the projections' inputs), the merged context (the out projection's input),
        the copies of Q, K, V the attention path keeps, and that path's own tensors.

        - "fused" (flash or memory-efficient scaled_dot_product_attention): Q, K, V as given
          and one float32 log-sum-exp per query row. With dropout, on CPU, where no fused
          kernel takes a dropout, PyTorch runs the "math" path instead.
        - "eager" (softmax(Q K^T * scale) V written out): Q, K, V as given, and the
          probabilities, every (query, key) pair, masked or not.
        - "eager-scaled-query" (MultiheadAttention's need_weights path): K, V as given and a
          scaled copy of Q, and the probabilities.
        - "math" (SDPA's reference path): V as given, scaled copies of Q and K, the probabilities.
        With dropout the eager and math paths also keep the keep mask and the dropped
        probabilities (the second matmul's input). When Q, K, V are views of one packed
        projection (`packed`), keeping any of them keeps the whole packed tensor.
        """
        if path == "fused" and dropout > 0:
            on_cuda = self._kept("fused", 0.0, packed)
            on_cpu = self._kept("math", dropout, packed)
            kept = tuple(replace(item, device="cuda") for item in on_cuda) + tuple(replace(item, device="cpu") for item in on_cpu)
        else:
            kept = self._kept(path, dropout, packed)
        context = self.lead * self.queries * self.heads * self.head_dim
        return (*(Saved(input=i) for i in range(inputs)), *kept, Saved(numel=context))

    def _kept(self, path: str, dropout: float, packed: bool) -> tuple[Saved, ...]:
        query = self.lead * self.queries * self.heads * self.head_dim
        key = value = self.lead * self.keys * self.kv_heads * self.head_dim
        given, copies = {
            "fused": ((query, key, value), ()),
            "eager": ((query, key, value), ()),
            "eager-scaled-query": ((key, value), (query,)),
            "math": ((value,), (query, key)),
        }[path]
        if packed:
            given = (query + key + value,)
        kept = [Saved(numel=size) for size in (*given, *copies)]
        scores = self.lead * self.heads * self.queries * self.keys
        if path == "fused":
            kept.append(Saved(numel=self.lead * self.heads * self.queries, dtype="float32"))
        else:
            kept.append(Saved(numel=scores))
            if dropout > 0:
                kept += [Saved(numel=scores, dtype="dropout_mask"), Saved(numel=scores)]
        return tuple(kept)

    def cache(self) -> Value:
        """Keys and values a decoder keeps for later tokens: 2 * kv_heads * head_dim per key."""
        return 2 * self.lead * self.kv_heads * self.head_dim * self.keys


@register
class Attention(Layer):
    """Self-attention of modern transformers, batch first: (*, L, D) -> (*, L, D); with a
    second input (*, S, D_kv) as the memory, cross-attention.

    num_kv_heads < num_heads is grouped-query attention (1: multi-query). `causal` masks
    future keys; by default the MACs still cover the whole L x L score matrix, as a dense
    kernel computes it (and as fvcore and FlopCounterMode count); `causal_macs: true`
    counts only the L(L+1)/2 unmasked pairs, as FlashAttention-style kernels skip the rest.

    - params = D*H*hd + 2*D_kv*H_kv*hd + H*hd*D (+ H*hd + 2*H_kv*hd with qkv_bias, + D with out_bias)
    - MACs = N*(L*D*H*hd + 2*S*D_kv*H_kv*hd + L*H*hd*D)  [projections]
           + 2*N*H*P*hd                                [Q K^T and weights x V; P = L*S pairs]
    - other FLOPs = biases + N*H*P (scale) + 5*N*H*P - 2*N*H*L (softmax)
    """

    type: Literal["Attention"]
    num_heads: Size
    num_kv_heads: Size | None = Field(None, description="key/value heads (grouped-query attention); default num_heads")
    head_dim: Size | None = Field(None, description="default: embed dim / num_heads")
    qkv_bias: bool = True
    out_bias: bool = True
    causal: bool = False
    causal_macs: bool = Field(False, description="count only the unmasked half of a causal score matrix")
    kernel: Literal["fused", "eager"] = Field(
        "fused",
        description="fused: scaled_dot_product_attention's flash / memory-efficient kernels (keep a log-sum-exp per "
        "row for backward); eager: softmax(Q K^T) V written out (keeps the probabilities)",
    )
    dropout: float = Field(0.0, ge=0, le=1, description="dropout probability on the attention weights in training")
    arity: ClassVar[tuple[int, int | None]] = (1, 2)

    def parts(self, x: Shape, memory: Shape | None = None) -> AttentionParts:
        if len(x) < 2:
            raise LayerError(f"expected an input (*, L, D), got {format_shape(x)}")
        memory = x if memory is None else memory
        if len(memory) != len(x) or not all(definitely_equal(a, b) for a, b in zip(x[:-2], memory[:-2])):
            raise LayerError(f"the memory {format_shape(memory)} must have the query's batch dims {format_shape(x[:-2])}")
        kv_heads = self.num_kv_heads or self.num_heads
        exact_div(self.num_heads, kv_heads, "num_heads must be a multiple of num_kv_heads")
        head_dim = self.head_dim or exact_div(x[-1], self.num_heads, "embed dim / num_heads")
        if self.causal_macs and not self.causal:
            raise LayerError("causal_macs: true needs causal: true")
        if self.causal and not definitely_equal(x[-2], memory[-2]):
            raise LayerError("causal attention needs as many keys as queries")
        return AttentionParts(
            product(x[:-2]), x[-2], memory[-2], self.num_heads, kv_heads, head_dim,
            x[-1], memory[-1], memory[-1], x[-1], self.qkv_bias, self.out_bias, self.causal_macs,
        )

    def output_shape(self, x: Shape, memory: Shape | None = None) -> Shape:
        self.parts(x, memory)
        return x

    def param_count(self, x: Shape, memory: Shape | None = None) -> Value:
        return self.parts(x, memory).params()

    def macs(self, x: Shape, memory: Shape | None = None, *, out: Shape) -> Value:
        parts = self.parts(x, memory)
        return parts.projection_macs() + parts.score_macs()

    def other_flops(self, x: Shape, memory: Shape | None = None, *, out: Shape) -> Value:
        return self.parts(x, memory).other_flops()

    def saved_for_backward(self, x: Shape, memory: Shape | None = None, *, out: Shape) -> tuple[Saved, ...]:
        return self.parts(x, memory).saved(self.kernel, self.dropout, inputs=1 if memory is None else 2)

    def cache_elements(self, x: Shape, memory: Shape | None = None) -> Value:
        return self.parts(x, memory).cache() if self.causal else 0


@register
class MultiheadAttention(Layer):
    """torch.nn.MultiheadAttention: inputs query, key, value (`from: [q, k, v]`), or one
    input for self-attention. Layout (L, N, E), or (N, L, E) with batch_first, or (L, E).
    Costs as Attention with H heads of E/H, key/value dims kdim and vdim, and bias on all
    four projections (the attention weights output is not counted).
    """

    type: Literal["MultiheadAttention"]
    embed_dim: Size
    num_heads: Size
    dropout: float = Field(0.0, ge=0, le=1, description="dropout probability on the attention weights in training")
    bias: bool = True
    kdim: Size | None = None
    vdim: Size | None = None
    batch_first: bool = False
    need_weights: bool = Field(
        False,
        description="False (as ViT and TransformerEncoderLayer call it): the fused attention kernel; True: the "
        "eager path, which keeps the probabilities for backward",
    )
    arity: ClassVar[tuple[int, int | None]] = (1, 3)

    def parts(self, *inputs: Shape) -> AttentionParts:
        if len(inputs) == 2:
            raise LayerError("give one input (self-attention) or three (query, key, value)")
        query, key, value = (inputs * 3)[:3] if len(inputs) == 1 else inputs
        for name, shape, dim in (("query", query, self.embed_dim), ("key", key, self.kdim or self.embed_dim), ("value", value, self.vdim or self.embed_dim)):
            if len(shape) not in (2, 3) or not definitely_equal(shape[-1], dim):
                raise LayerError(f"{name} {format_shape(shape)} must be (L, N, {dim}), (N, L, {dim}) with batch_first, or (L, {dim})")
        seq = 1 if self.batch_first and len(query) == 3 else 0
        lead = query[1 - seq] if len(query) == 3 else 1
        head_dim = exact_div(self.embed_dim, self.num_heads, "embed_dim must be divisible by num_heads")
        return AttentionParts(
            lead, query[seq], key[seq], self.num_heads, self.num_heads, head_dim,
            self.embed_dim, self.kdim or self.embed_dim, self.vdim or self.embed_dim, self.embed_dim, self.bias, self.bias,
        )

    def output_shape(self, *inputs: Shape) -> Shape:
        self.parts(*inputs)
        return inputs[0]

    def param_count(self, *inputs: Shape) -> Value:
        return self.parts(*inputs).params()

    def macs(self, *inputs: Shape, out: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.projection_macs() + parts.score_macs()

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        return self.parts(*inputs).other_flops()

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        # F.multi_head_attention_forward projects a single input (self-attention) with one
        # packed in_proj, so Q, K and V are views of one tensor; separate inputs get three.
        path = "eager-scaled-query" if self.need_weights else "fused"
        return self.parts(*inputs).saved(path, self.dropout, packed=len(inputs) == 1, inputs=len(inputs))
