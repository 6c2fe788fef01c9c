"""Multi-head latent attention (DeepSeek-V2/V3): keys and values through a low-rank latent.

Per token, the input is projected to a latent of kv_lora_rank dims (normalized) plus one
rotary key of qk_rope_head_dim dims shared by every head; the latent is projected up to
each head's key (qk_nope_head_dim) and value (v_head_dim). Queries come from the input
directly, or through their own low-rank latent (q_lora_rank). Each head's query and key
are the no-position part and the rotary part side by side (qk_nope + qk_rope dims).
The KV cache keeps only the latent and the rotary key per token: kv_lora_rank +
qk_rope_head_dim values, for all heads together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, definitely_equal, is_concrete, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.attention import AttentionParts
from archspec.layers.base import (
    Count,
    Layer,
    Saved,
    Shape,
    Size,
    TensorParallel,
    exact_div,
    shard,
    format_shape,
)

# an RMSNorm without its weight: square, sum, scale per element; mean, eps, rsqrt per row
_NORM_PER_ELEMENT, _NORM_PER_ROW = 3, 3


@register
class LatentAttention(Layer):
    """Multi-head latent attention, causal self-attention over (*, L, D) -> (*, L, D); the
    second input is a RotaryEmbedding table of qk_rope_head_dim (module docstring).

    With T = N*L tokens, H heads, qk = qk_nope + qk_rope, r = kv_lora_rank, q_r = q_lora_rank:
    - params = D*q_r + q_r + q_r*H*qk (or D*H*qk without q_r) + D*(r + qk_rope) + r
      + r*H*(qk_nope + v) + H*v*D (+ the q, kv_a and o biases with bias)
    - MACs = T*(D*q_r + q_r*H*qk or D*H*qk) + T*D*(r + qk_rope) + N*S_up*r*H*(qk_nope + v)
      + N*H*P*(qk + v) + T*H*v*D; S_up = the positions whose latent is projected up:
      L, and in a decode step every cached position too, as HuggingFace's implementation
      does; P = scored (query, key) pairs, as Attention
    - other FLOPs = the two latent norms (RMSNorm), rotary 7/2 per rotated element of the
      queries and the shared key, the scale and softmax as Attention
    """

    type: Literal["LatentAttention"]
    num_heads: Size
    kv_lora_rank: Size
    q_lora_rank: Count = Field(0, description="the queries' low-rank latent; 0: queries projected directly")
    qk_nope_head_dim: Size
    qk_rope_head_dim: Size
    v_head_dim: Size
    bias: bool = Field(False, description="biases on the q (or q_a), kv_a and output projections (attention_bias)")
    causal_macs: bool = Field(False, description="count only the unmasked (query, key) pairs")
    kernel: Literal["fused", "eager"] = Field("fused", description="as Attention's kernel: what backward keeps")
    past: Count = Field(0, description="tokens already in the KV cache (set by the decode step)")
    arity: ClassVar[tuple[int, int | None]] = (2, 2)

    def parts(self, x: Shape, rotary: Shape) -> AttentionParts:
        if len(x) < 2:
            raise LayerError(f"expected an input (*, L, D), got {format_shape(x)}")
        if len(rotary) != 3 or not definitely_equal(exact_div(rotary[-1], 2, "the rotary table's last dim"), self.qk_rope_head_dim):
            raise LayerError(f"the rotary input {format_shape(rotary)} must be a RotaryEmbedding table of dim qk_rope_head_dim={self.qk_rope_head_dim}")
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        return AttentionParts(
            product(x[:-2]), x[-2], x[-2], self.num_heads, self.num_heads, qk, x[-1], x[-1], x[-1], x[-1],
            False, False, self.causal_macs, v_head_dim=self.v_head_dim, past=self.past,
            rope_dim=self.qk_rope_head_dim, rope_key_heads=1,
        )

    def output_shape(self, x: Shape, rotary: Shape) -> Shape:
        self.parts(x, rotary)
        return x

    def _query_weights(self, width: Value) -> Value:
        qk = self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
        return width * self.q_lora_rank + self.q_lora_rank * qk if self.q_lora_rank else width * qk

    def param_count(self, x: Shape, rotary: Shape) -> Value:
        width, r = x[-1], self.kv_lora_rank
        latent = width * (r + self.qk_rope_head_dim)
        up = r * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)
        out = self.num_heads * self.v_head_dim * width
        norms = self.q_lora_rank + r
        q_bias = self.q_lora_rank or self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
        biases = (q_bias + r + self.qk_rope_head_dim + width) if self.bias else 0
        return self._query_weights(width) + latent + up + out + norms + biases

    def macs(self, x: Shape, rotary: Shape, out: Shape) -> Value:
        parts = self.parts(x, rotary)
        tokens, width, r = product(x[:-1]), x[-1], self.kv_lora_rank
        up = parts.lead * (parts.cached + parts.keys) * r * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)
        projections = tokens * (self._query_weights(width) + width * (r + self.qk_rope_head_dim) + self.num_heads * self.v_head_dim * width)
        return projections + up + parts.score_macs()

    def other_flops(self, x: Shape, rotary: Shape, out: Shape) -> Value:
        parts = self.parts(x, rotary)
        tokens = product(x[:-1])
        norm_width = self.q_lora_rank + self.kv_lora_rank
        norm_rows = tokens * ((1 if self.q_lora_rank else 0) + 1)
        norms = tokens * norm_width * (_NORM_PER_ELEMENT + 1) + norm_rows * _NORM_PER_ROW
        biases = 0
        if self.bias:
            q_out = self.q_lora_rank or self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
            biases = tokens * (q_out + self.kv_lora_rank + self.qk_rope_head_dim + x[-1]) * flops_per_element("bias")
        return norms + biases + parts.other_flops()  # the parts' own: rotary, scale, softmax

    def saved_for_backward(self, x: Shape, rotary: Shape, out: Shape) -> tuple[Saved, ...]:
        """The input; each latent's norm (its input, 1/rms per row, the normalized latent) and
        the up-projection's input; the rotary table; then Q, K, V and the path's tensors as
        Attention (K per head, the no-position and rotary parts together), and the context."""
        parts = self.parts(x, rotary)
        tokens, r = product(x[:-1]), self.kv_lora_rank
        if is_concrete(x[0]) and x[0] == 1 and not self.past:
            # one sequence: V reshaped from the up-projection is a view, so keeping it keeps K's part too
            parts = replace(parts, value_storage=tokens * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim))
        saved = [Saved(input=0)]
        if self.q_lora_rank:
            saved += [Saved(numel=tokens * self.q_lora_rank), Saved(numel=tokens), Saved(numel=tokens * self.q_lora_rank)]
            saved += [Saved(numel=tokens * self.q_lora_rank)]
        saved += [Saved(numel=tokens * (r + self.qk_rope_head_dim)), Saved(numel=tokens), Saved(numel=tokens * r)]
        saved += [Saved(numel=tokens * r)]
        return (*saved, *parts.saved(self.kernel, rope=1, inputs=()))

    def internal_elements(self, x: Shape, rotary: Shape) -> Value:
        return self.parts(x, rotary).score_traffic(self.kernel, 0)

    def tensor_parallel(self, tp, split, x, rotary):
        """heads: the query and key/value up-projections and the output split by heads; the
        down-projections to the latents and their norms on every rank (as Megatron's MLA)."""
        heads = shard(self.num_heads, tp, f"num_heads={self.num_heads} must be divisible by tp={tp}")
        width, r = x[-1], self.kv_lora_rank
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        query = (width * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * heads * qk) if self.q_lora_rank else width * heads * qk
        latent = width * (r + self.qk_rope_head_dim) + r
        up = r * heads * (self.qk_nope_head_dim + self.v_head_dim)
        out = heads * self.v_head_dim * width
        biases = (self.param_count(x, rotary) - self.model_copy(update={"bias": False}).param_count(x, rotary)) if self.bias else 0
        return TensorParallel("heads", query + latent + up + out + biases)

    def cache_elements(self, x: Shape, rotary: Shape) -> Value:
        parts = self.parts(x, rotary)
        return parts.lead * (self.past + parts.keys) * (self.kv_lora_rank + self.qk_rope_head_dim)

    def cache_read_elements(self, x: Shape, rotary: Shape) -> Value:
        parts = self.parts(x, rotary)
        return parts.lead * parts.cached * (self.kv_lora_rank + self.qk_rope_head_dim)

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "LatentAttention":
        return self.model_copy(update={"past": past})
