"""Position information for attention: rotary tables, T5's relative position bias, ALiBi.

Each computes, once per forward pass, a tensor that attention layers read as an input
(`rotary: true`, `score_bias: true` on Attention), as HuggingFace models compute it once
and pass it to every layer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.dims import Value, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Count,
    Layer,
    Saved,
    Shape,
    Size,
    exact_div,
    format_shape,
    real,
)

# T5's bucket of a relative position: |j - i| / max_exact, its log, / log(max_distance /
# max_exact), * (buckets - max_exact) (the comparisons and integer ops are not FLOPs)
BUCKET_FLOPS = 4


def _sequence_length(x: Shape) -> Value:
    if len(x) < 2:
        raise LayerError(f"expected an input (N, L) of ids or (N, L, D), got {format_shape(x)}")
    return x[1]


@register
class RotaryEmbedding(Layer):
    """The cos and sin tables of rotary position embeddings (RoPE), for the input's L
    positions: (N, L) ids or (N, L, D) -> (1, L, 2*dim), cos and sin side by side, as
    HuggingFace's rotary modules return them for positions shared by the batch. Attention
    layers with `rotary: true` read it and rotate `dim` dims of each query and key head.

    - other FLOPs = L*dim/2 (positions x inverse frequencies) + 2*L*dim (cos and sin); no params
    - buffers = dim: the dim/2 inverse frequencies, twice (HuggingFace keeps inv_freq and original_inv_freq)
    """

    type: Literal["RotaryEmbedding"]
    dim: Size = Field(description="rotated dims per head (the head dim, or a part of it)")
    base: real(minimum=0) = Field(10000.0, description="theta, the frequency base (no effect on counts)")

    def output_shape(self, x: Shape) -> Shape:
        _sequence_length(x)
        exact_div(self.dim, 2, "dim must be even (pairs of rotated dims)")
        return (1, x[1], 2 * self.dim)

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return x[1] * self.dim // 2 + 2 * x[1] * self.dim

    def buffer_count(self, x: Shape) -> Value:
        return self.dim


@register
class RelativePositionBias(Layer):
    """T5's relative position bias: each (query, key) offset falls in one of num_buckets
    buckets (exact for small offsets, logarithmic up to max_distance), and a learned
    (num_buckets, num_heads) table gives each head's bias. Input (N, L, D) -> (1, H, L, S),
    S = L (+ the cached past in a decode step); Attention layers with `score_bias: true` add it.

    - params = num_buckets * num_heads
    - other FLOPs = 4 per (query, key) pair (the bucket's logarithm); the lookup costs nothing
    - saved for backward: the int64 bucket of every pair (to scatter the table's gradient)
    """

    type: Literal["RelativePositionBias"]
    num_heads: Size
    num_buckets: Size = 32
    max_distance: Size = 128
    bidirectional: bool = Field(True, description="true in encoders; decoders see only earlier keys")
    past: Count = Field(0, description="keys already cached (set by the decode step)")

    def output_shape(self, x: Shape) -> Shape:
        length = _sequence_length(x)
        return (1, self.num_heads, length, self.past + length)

    def weight_shape(self, x: Shape) -> Shape:
        return (self.num_buckets, self.num_heads)

    def param_count(self, x: Shape) -> Value:
        return self.num_buckets * self.num_heads

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return BUCKET_FLOPS * out[2] * out[3]

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return (Saved(numel=out[2] * out[3], dtype="int64"),)

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "RelativePositionBias":
        return self.model_copy(update={"past": past})


@register
class AlibiBias(Layer):
    """ALiBi (Press et al., 2022): a fixed per-head slope times the key position, added to
    the scores (softmax ignores the per-row offset). Input (N, L, D) -> (1, H, 1, S), S = L
    (+ the cached past in a decode step).

    - other FLOPs = H * S multiplies; no params
    """

    type: Literal["AlibiBias"]
    num_heads: Size
    past: Count = Field(0, description="keys already cached (set by the decode step)")

    def output_shape(self, x: Shape) -> Shape:
        return (1, self.num_heads, 1, self.past + _sequence_length(x))

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(out)

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "AlibiBias":
        return self.model_copy(update={"past": past})
