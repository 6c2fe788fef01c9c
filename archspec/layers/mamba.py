"""Mamba's selective state-space mixer (Gu & Dao, 2023), as HuggingFace's MambaMixer.

Per token x (D wide): in_proj to two branches of d_inner = expand * D channels (x, z);
x through a causal depthwise conv of d_conv taps and SiLU; x_proj to a time step of
dt_rank dims and B, C of d_state each; dt_proj and softplus give Δ per channel. The
recurrence, per channel c and state n, with A = -exp(A_log):

    h[t] = exp(Δ[t] * A) * h[t-1] + Δ[t] * B[t] * x[t]        (6 FLOPs per (t, c, n))
    y[t] = C[t] · h[t] + D * x[t]                             (d_state MACs per (t, c))

then y * SiLU(z) and out_proj back to D. Inference keeps, per layer, the conv state
(d_conv inputs per channel) and the SSM state (d_state per channel), whatever the length.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.costs import flops_per_element
from archspec.dims import Value, ceildiv, is_concrete, product
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Count,
    Layer,
    Saved,
    Shape,
    Size,
    TensorParallel,
    format_shape,
)

SCAN_FLOPS = 6  # per token, channel and state: Δ*A, exp, Δ*B, times x, times h, plus


@register
class Mamba(Layer):
    """Mamba's mixer, batch first: (N, L, D) -> (N, L, D) (module docstring). With T = N*L,
    d = d_inner, n = d_state, r = dt_rank, K = d_conv:

    - params = D*2d (+2d) + d*K (+d) + d*(r + 2n) + r*d + d + d*n + d + d*D (+D)
      [in_proj, conv, x_proj, dt_proj, A_log, D, out_proj; (+) with bias / conv_bias]
    - MACs = T*(2*D*d + K*d + d*(r + 2n) + r*d + d*n + d*D)
    - other FLOPs = T*d*(6n + SiLU 4 + softplus 4 + 2 (D skip) + SiLU 4 + 1 (gate) + biases)
      + 2*d*n (A = -exp(A_log))
    - KV cache (inference state) = N*d*(K + n) per layer
    """

    type: Literal["Mamba"]
    d_state: Size = 16
    d_conv: Size = 4
    expand: Size = 2
    dt_rank: Size | None = Field(None, description="default ceil(D / 16)")
    bias: bool = Field(False, description="biases on in_proj and out_proj")
    conv_bias: bool = True
    kernel: Literal["fused", "torch"] = Field(
        "fused",
        description="what backward keeps: fused (mamba_ssm's selective scan and causal conv kernels) or torch "
        "(the reference path HuggingFace runs without them: every state of the scan)",
    )
    past: Count = Field(0, description="tokens already processed (set by the decode step: one step on the cached state)")

    def _sizes(self, x: Shape) -> tuple[Value, Value, Value, Value]:
        if len(x) != 3:
            raise LayerError(f"expected an input (N, L, D), got {format_shape(x)}")
        width = x[-1]
        inner = self.expand * width
        rank = self.dt_rank or ceildiv(width, 16)
        return product(x[:-1]), width, inner, rank

    def output_shape(self, x: Shape) -> Shape:
        self._sizes(x)
        return x

    def param_count(self, x: Shape) -> Value:
        _, width, d, r = self._sizes(x)
        n, k = self.d_state, self.d_conv
        in_proj = width * 2 * d + (2 * d if self.bias else 0)
        conv = d * k + (d if self.conv_bias else 0)
        out_proj = d * width + (width if self.bias else 0)
        return in_proj + conv + d * (r + 2 * n) + r * d + d + d * n + d + out_proj

    def macs(self, x: Shape, out: Shape) -> Value:
        tokens, width, d, r = self._sizes(x)
        return tokens * (2 * width * d + self.d_conv * d + d * (r + 2 * self.d_state) + r * d + d * self.d_state + d * width)

    def other_flops(self, x: Shape, out: Shape) -> Value:
        tokens, width, d, _ = self._sizes(x)
        per_channel = SCAN_FLOPS * self.d_state + 2 * flops_per_element("SiLU") + flops_per_element("Softplus") + 2 + 1
        biases = d * (2 * int(self.bias) + int(self.conv_bias) + 1) + width * int(self.bias)  # +1: dt_proj's bias
        return tokens * (d * per_channel + biases) + 2 * d * self.d_state

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        """torch: every intermediate of HuggingFace's reference path, the scan's L + 1 states
        included; fused: what mamba_ssm's MambaInnerFn keeps (xz, x_dbl, the conv output, Δ,
        B, C, the scan's chunk checkpoints, the output) besides the input."""
        tokens, width, d, r = self._sizes(x)
        batch, length = x[0], x[1]
        n, k = self.d_state, self.d_conv
        common = [Saved(input=0), Saved(split=True, numel=2 * tokens * d), Saved(split=True, numel=tokens * (r + 2 * n))]
        if self.kernel == "fused":
            chunks = ceildiv(length, 2048)
            return (*common, *(Saved(split=True, numel=tokens * d) for _ in range(3)), Saved(split=True, numel=tokens * n), Saved(split=True, numel=tokens * n),
                    Saved(split=True, numel=batch * d * chunks * 2 * n))
        return (
            *common,
            Saved(split=True, numel=batch * d * (length + k - 1)),  # the conv's output, before the slice to L
            # SiLU(x), Δ before and after softplus, x and Δ broadcast over the states
            *(Saved(split=True, numel=tokens * d) for _ in range(5)),
            # x_proj's input, a copy of SiLU(x) made by a reshape (a view when the batch is 1)
            *((Saved(split=True, numel=tokens * d),) if not (is_concrete(batch) and batch == 1) else ()),
            Saved(split=True, numel=d * n), Saved(split=True, numel=d * n),  # A = -exp(A_log), broadcast
            Saved(split=True, numel=tokens * d * n), Saved(split=True, numel=tokens * d * n),  # exp(Δ A), Δ B
            Saved(split=True, numel=batch * (length + 1) * d * n),  # the initial state and one state per step
            Saved(split=True, numel=tokens * d),  # y * SiLU(z), out_proj's input
        )

    def tensor_parallel(self, tp, split, x):
        """heads: every per-channel weight split by channels (d_inner / tp each), out_proj row-parallel
        with its bias on every rank."""
        out_bias = x[-1] if self.bias else 0
        return TensorParallel("heads", ceildiv(self.param_count(x) - out_bias, tp) + out_bias)

    def cache_elements(self, x: Shape) -> Value:
        _, _, d, _ = self._sizes(x)
        return x[0] * d * (self.d_conv + self.d_state)

    def cache_read_elements(self, x: Shape) -> Value:
        return self.cache_elements(x) if self.past else 0

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "Mamba":
        return self.model_copy(update={"past": past})
