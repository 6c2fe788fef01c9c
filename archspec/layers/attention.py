"""Attention: a general multi-head / grouped-query / multi-query layer, and torch.nn.MultiheadAttention.

Both count the same parts (docs/counting.md), kept apart so that formulas show them:
the projections (linear in the sequence length), and the two matmuls over the score
matrix, Q K^T and softmax(.) V (quadratic: L x S per head). The same parts serve
latent attention (archspec.layers.latent_attention).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from pydantic import Field

from archspec.dims import Value, ceildiv, definitely_equal, maximum, minimum, product
from archspec.errors import LayerError
from archspec.layers import register
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
    real,
)
from archspec.layers.norm import RMSNorm

ROPE_FLOPS_PER_PAIR = 7  # x*cos + rotate_half(x)*sin on two elements: 4 multiplies, 2 adds, 1 negation


@dataclass(frozen=True)
class AttentionParts:
    """Sizes of one attention: `lead` batch elements, L queries, S keys (new keys for
    self-attention; the memory's length for cross-attention), H query heads of head_dim
    (queries and keys) and v_head_dim (values), kv_heads key/value heads, model dims of
    the query, key and value inputs and of the output.

    Self-attention can attend to `past` tokens already in the KV cache (a decode step);
    with a sliding `window` W the cache keeps W - 1 of them and each query sees at most
    W keys, itself included. Cross-attention keys come from the memory, projected in this
    pass or, with `memory_cached`, read from the cache.
    """

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
    causal_pairs: bool = False  # count only the (query, key) pairs the mask keeps
    v_head_dim: Value | None = None  # default head_dim
    biases: tuple[bool, bool, bool] | None = None  # q, k, v projection biases; default qkv_bias for all three
    cross: bool = False
    past: Value = 0
    window: Value = 0  # 0: no window
    memory_cached: bool = False
    scaled: bool = True  # scores multiplied by a scale (1/sqrt(d)); False: T5's unscaled scores
    softcap: bool = False  # scores -> cap * tanh(scores / cap) (Gemma 2)
    score_bias: bool = False  # an additive bias on the scores (relative positions, ALiBi)
    rope_dim: Value = 0  # rotated dims per query and key head
    rope_key_heads: Value | None = None  # heads the key rotation applies to; default kv_heads
    value_storage: Value | None = None  # elements of the tensor V is a view of, when saving V keeps all of it

    @property
    def value_head_dim(self) -> Value:
        return self.head_dim if self.v_head_dim is None else self.v_head_dim

    @property
    def projection_biases(self) -> tuple[bool, bool, bool]:
        return self.biases if self.biases is not None else (self.qkv_bias,) * 3

    @property
    def cached(self) -> Value:
        """Tokens read from the KV cache by self-attention: the past, W - 1 of it under a window."""
        if not self.past or self.cross:
            return 0
        return minimum(self.past, self.window - 1) if self.window else self.past

    @property
    def scored_keys(self) -> Value:
        """Keys each query is scored against by a dense kernel (masked ones included)."""
        return self.keys if self.cross else self.cached + self.keys

    @property
    def projected_keys(self) -> Value:
        """Key positions whose K and V are projected in this pass."""
        return 0 if self.cross and self.memory_cached else self.keys

    @property
    def pairs(self) -> Value:
        """(query, key) pairs scored per head: every scored key, or with causal_pairs only
        the visible ones: query i (at position past + i) sees keys past + i - W < j <= past + i."""
        if not self.causal_pairs:
            return self.queries * self.scored_keys
        seen = self.past * self.queries + self.queries * (self.queries + 1) // 2  # positions past+1 .. past+L
        if not self.window:
            return seen
        # beyond the window: sum over t = past+1 .. past+L of max(t - W, 0)
        return seen - _triangle(self.past + self.queries - self.window) + _triangle(self.past - self.window)

    def params(self) -> Value:
        q = self.heads * self.head_dim
        k = self.kv_heads * self.head_dim
        v = self.kv_heads * self.value_head_dim
        weights = self.query_dim * q + self.key_dim * k + self.value_dim * v + self.heads * self.value_head_dim * self.out_dim
        q_bias, k_bias, v_bias = (int(b) for b in self.projection_biases)
        biases = q * q_bias + k * k_bias + v * v_bias + (self.out_dim if self.out_bias else 0)
        return weights + biases

    def projection_macs(self) -> Value:
        q = self.heads * self.head_dim
        k = self.kv_heads * self.head_dim
        v = self.kv_heads * self.value_head_dim
        keys = self.projected_keys
        return self.lead * (
            self.queries * self.query_dim * q + keys * (self.key_dim * k + self.value_dim * v)
            + self.queries * self.heads * self.value_head_dim * self.out_dim
        )

    def score_macs(self) -> Value:
        """Q K^T over head_dim and the weighted sum of V over v_head_dim, per head and pair."""
        return self.lead * self.heads * self.pairs * (self.head_dim + self.value_head_dim)

    def bias_adds(self) -> Value:
        """One add per output element of each projection that has a bias."""
        q_bias, k_bias, v_bias = (int(b) for b in self.projection_biases)
        keys = self.projected_keys
        adds = self.queries * self.heads * self.head_dim * q_bias
        adds += keys * self.kv_heads * (self.head_dim * k_bias + self.value_head_dim * v_bias)
        adds += self.queries * self.out_dim * int(self.out_bias)
        return self.lead * adds

    def rope_flops(self) -> Value:
        """Rotary embedding of the new queries and keys: 7 FLOPs per rotated pair of elements."""
        if not self.rope_dim:
            return 0
        key_heads = self.kv_heads if self.rope_key_heads is None else self.rope_key_heads
        rotated = self.lead * (self.queries * self.heads + self.projected_keys * key_heads) * self.rope_dim
        return ROPE_FLOPS_PER_PAIR * rotated // 2

    def other_flops(self) -> Value:
        rows = self.lead * self.heads * self.queries
        scores = self.lead * self.heads * self.pairs
        # per score: the scale, a bias add, soft-capping (divide, tanh, multiply);
        # softmax: 5 per score - 2 per row (as Softmax)
        per_score = int(self.scaled) + int(self.score_bias) + 3 * int(self.softcap) + 5
        return self.bias_adds() + self.rope_flops() + per_score * scores - 2 * rows

    def saved(
        self, path: str, dropout: float = 0.0, packed: bool = False, inputs: tuple[int, ...] = (0,), rope: int | None = None
    ) -> tuple[Saved, ...]:
        """What autograd keeps: the projections' `inputs`, the merged context (the out
        projection's input), the copies of Q, K, V the attention path keeps, and that
        path's own tensors; the rotary table (input `rope`) once, as the rotations keep it.

        - "fused" (flash or memory-efficient scaled_dot_product_attention): Q, K, V as given
          and one float32 log-sum-exp per query row. With dropout, on CPU, where no fused
          kernel takes a dropout, PyTorch runs the "math" path instead.
        - "eager" (softmax(Q K^T * scale) V written out, as HuggingFace's eager attention):
          Q, and K and V repeated to every query head (copies, when kv_heads < heads), and
          the probabilities, every (query, key) pair, masked or not; with soft-capping, the
          tanh of the scores too.
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
        context = self.lead * self.queries * self.heads * self.value_head_dim
        table = () if rope is None else (Saved(input=rope),)
        return (*(Saved(input=i) for i in inputs), *table, *kept, Saved(numel=context, split=True))

    def _kept(self, path: str, dropout: float, packed: bool) -> tuple[Saved, ...]:
        query = self.lead * self.queries * self.heads * self.head_dim
        keys = self.scored_keys
        key_heads = self.heads if path == "eager" else self.kv_heads  # repeat_kv copies for every query head
        key = self.lead * keys * key_heads * self.head_dim
        value = self.lead * keys * key_heads * self.value_head_dim
        given, copies = {
            "fused": ((query, key, value), ()),
            "eager": ((query, key, value), ()),
            "eager-scaled-query": ((key, value), (query,)),
            "math": ((value,), (query, key)),
        }[path]
        if packed:
            given = (query + key + value,)
        elif self.value_storage is not None and path in ("fused", "eager"):
            given = (query, key, self.value_storage)
        # per head, so tensor parallelism splits them; the core's own (scores and what follows) selective recomputation drops
        kept = [Saved(numel=size, split=True) for size in (*given, *copies)]
        scores = self.lead * self.heads * self.queries * keys
        if path == "fused":
            kept.append(Saved(numel=self.lead * self.heads * self.queries, dtype="float32", split=True, core=True))
        else:
            if self.softcap:
                kept.append(Saved(numel=scores, split=True, core=True))  # tanh keeps its output
            kept.append(Saved(numel=scores, split=True, core=True))
            if dropout > 0:
                kept += [Saved(numel=scores, dtype="dropout_mask", split=True, core=True), Saved(numel=scores, split=True, core=True)]
        return tuple(kept)

    def cache(self) -> Value:
        """Keys and values a decoder keeps for later tokens, per batch element and token:
        kv_heads * (head_dim + v_head_dim); self-attention keeps the past and the new
        tokens (W - 1 of them under a window), cross-attention the memory."""
        per_token = self.kv_heads * (self.head_dim + self.value_head_dim)
        if self.cross:
            return self.lead * self.keys * per_token
        tokens = self.past + self.keys
        if self.window:
            tokens = minimum(tokens, self.window - 1)
        return self.lead * tokens * per_token

    def score_traffic(self, path: str, dropout: float) -> Value:
        """Elements an eager path moves through memory over the score matrices: the scores
        written, the scale (read, write), the softmax (read, write), read again by the
        product with V; 2 more each for a bias, soft-capping (tanh) and the causal mask, 3
        for dropout (read, write, its mask). A fused kernel keeps them on chip: none. (A past
        that is a free param counts as some past, as in kv_read: a mask over it.)"""
        if path == "fused":
            return 0
        scores = self.lead * self.heads * self.queries * self.scored_keys
        passes = 6 + 2 * (int(self.score_bias) + int(self.softcap) + int(bool(self.causal_pairs or self.past or not self.cross))) + (3 if dropout else 0)
        return scores * passes

    def params_per_rank(self, tp: Value) -> Value:
        """Parameters one tensor-parallel rank holds: the query heads and the output projection's
        rows split by heads, key/value heads too (a whole head per rank when there are fewer
        than tp of them), the output bias on every rank."""
        heads = shard(self.heads, tp, f"num_heads={self.heads} must be divisible by tp={tp}")
        kv_heads = ceildiv(self.kv_heads, tp)
        q_bias, k_bias, v_bias = (int(b) for b in self.projection_biases)
        query = heads * self.head_dim * (self.query_dim + q_bias)
        key = kv_heads * self.head_dim * (self.key_dim + k_bias)
        value = kv_heads * self.value_head_dim * (self.value_dim + v_bias)
        out = heads * self.value_head_dim * self.out_dim + (self.out_dim if self.out_bias else 0)
        return query + key + value + out

    def cache_read(self) -> Value:
        """Cache elements read by this pass: the cached past, or a cached memory."""
        per_token = self.kv_heads * (self.head_dim + self.value_head_dim)
        if self.cross:
            return self.lead * self.keys * per_token if self.memory_cached else 0
        return self.lead * self.cached * per_token


def _triangle(n: Value) -> Value:
    """1 + 2 + ... + n for n > 0, else 0."""
    n = maximum(n, 0)
    return n * (n + 1) // 2


@register
class Attention(Layer):
    """Self-attention of modern transformers, batch first: (*, L, D) -> (*, L, D); with a
    second input (*, S, D_kv) as the memory, cross-attention.

    Inputs, in order: x, the memory (optional), the table of a RotaryEmbedding layer
    (with `rotary: true`), a bias added to the scores (with `score_bias: true`, e.g. a
    RelativePositionBias or AlibiBias output, broadcast to (*, H, L, S)).

    num_kv_heads < num_heads is grouped-query attention (1: multi-query). `causal` masks
    future keys; by default the MACs still cover the whole L x L score matrix, as a dense
    kernel computes it (and as fvcore and FlopCounterMode count); `causal_macs: true`
    counts only the unmasked pairs, as FlashAttention-style kernels skip the rest. A
    sliding `window` W lets each query see the W latest keys (itself included); with
    `causal_macs` only those pairs count, and the KV cache keeps W - 1 tokens.

    - params = D*H*hd + D_kv*H_kv*(hd + vd) + H*vd*D (+ each projection's bias)
    - MACs = N*(L*D*H*hd + S*D_kv*H_kv*(hd + vd) + L*H*vd*D)  [projections]
           + N*H*P*(hd + vd)                              [Q K^T and weights x V; P = L*S pairs]
    - other FLOPs = biases + rotary 7/2 per rotated element + N*H*P per score op (scale,
      bias, 3 for soft-capping) + 5*N*H*P - 2*N*H*L (softmax)
    """

    type: Literal["Attention"]
    num_heads: Size
    num_kv_heads: Size | None = Field(None, description="key/value heads (grouped-query attention); default num_heads")
    head_dim: Size | None = Field(None, description="query and key dims per head; default: embed dim / num_heads")
    v_head_dim: Size | None = Field(None, description="value dims per head; default head_dim")
    qkv_bias: bool = True
    q_bias: bool | None = Field(None, description="the query projection's bias; default qkv_bias")
    k_bias: bool | None = Field(None, description="the key projection's bias; default qkv_bias (Whisper: false)")
    v_bias: bool | None = Field(None, description="the value projection's bias; default qkv_bias")
    out_bias: bool = True
    causal: bool = False
    causal_macs: bool = Field(False, description="count only the unmasked (query, key) pairs")
    window: Count = Field(0, description="sliding window: each query sees its W latest keys; 0: no window")
    scale: real(minimum=0) | None = Field(None, description="the scores' scale; default 1/sqrt(head_dim); 1: unscaled (T5)")
    softcap: real(minimum=0) | None = Field(None, description="logit soft-capping: scores -> cap * tanh(scores / cap) (Gemma 2)")
    rotary: bool = Field(False, description="rotary embedding of queries and keys, from a RotaryEmbedding input")
    qk_norm: Literal["none", "head", "full"] = Field(
        "none",
        description="RMSNorm of the projected queries and keys, as HF writes it out: head: over each head's dims "
        "(Qwen3, Gemma 3), full: over all heads at once (OLMo 2)",
    )
    qk_norm_offset: Literal[0, 1] = Field(0, description="1: the q/k norms scale by (1 + weight), as Gemma 3")
    qk_norm_eps: real(minimum=0) | None = Field(None, description="the q/k norms' epsilon (no cost)")
    score_bias: bool = Field(False, description="an input added to the scores (relative position bias, ALiBi)")
    past: Count = Field(0, description="tokens already in the KV cache (set by the decode step)")
    memory_cached: bool = Field(False, description="cross-attention reads the memory's keys and values from the cache")
    kernel: Literal["fused", "eager"] = Field(
        "fused",
        description="fused: scaled_dot_product_attention's flash / memory-efficient kernels (keep a log-sum-exp per "
        "row for backward); eager: softmax(Q K^T) V written out (keeps the probabilities)",
    )
    dropout: real(0, 1) = Field(0.0, description="dropout probability on the attention weights in training")
    arity: ClassVar[tuple[int, int | None]] = (1, 4)

    def input_count(self) -> tuple[int, int | None]:
        extra = int(self.rotary) + int(self.score_bias)
        return 1 + extra, 2 + extra

    def roles(self, inputs: tuple[Shape, ...]) -> dict[str, int]:
        """Which input is which: x, memory, rotary table, score bias (absent ones left out)."""
        names = ["x"]
        extra = int(self.rotary) + int(self.score_bias)
        if len(inputs) - extra == 2:
            names.append("memory")
        names += ["rotary"] * self.rotary + ["score_bias"] * self.score_bias
        return {name: i for i, name in enumerate(names)}

    def parts(self, *inputs: Shape) -> AttentionParts:
        role = self.roles(inputs)
        x = inputs[0]
        memory = inputs[role["memory"]] if "memory" in role else None
        if len(x) < 2:
            raise LayerError(f"expected an input (*, L, D), got {format_shape(x)}")
        cross = memory is not None
        memory = x if memory is None else memory
        if len(memory) != len(x) or not all(definitely_equal(a, b) for a, b in zip(x[:-2], memory[:-2])):
            raise LayerError(f"the memory {format_shape(memory)} must have the query's batch dims {format_shape(x[:-2])}")
        kv_heads = self.num_kv_heads or self.num_heads
        exact_div(self.num_heads, kv_heads, "num_heads must be a multiple of num_kv_heads")
        head_dim = self.head_dim or exact_div(x[-1], self.num_heads, "embed dim / num_heads")
        if self.causal_macs and not self.causal:
            raise LayerError("causal_macs: true needs causal: true")
        if self.causal and cross:
            raise LayerError("causal masks a sequence against itself; cross-attention (a memory input) cannot be causal")
        if self.window and not self.causal:
            raise LayerError("a sliding window needs causal: true")
        if (self.past or self.memory_cached) and not (self.causal or cross):
            raise LayerError("a KV cache (past, memory_cached) belongs to causal self-attention or cross-attention")
        rope_dim = self._rope_dim(inputs, role, head_dim)
        self._check_score_bias(inputs, role)
        biases = tuple(self.qkv_bias if b is None else b for b in (self.q_bias, self.k_bias, self.v_bias))
        return AttentionParts(
            product(x[:-2]), x[-2], memory[-2], self.num_heads, kv_heads, head_dim,
            x[-1], memory[-1], memory[-1], x[-1], self.qkv_bias, self.out_bias, self.causal_macs,
            v_head_dim=self.v_head_dim, biases=biases, cross=cross, past=self.past, window=self.window,
            memory_cached=self.memory_cached, scaled=self.scale != 1, softcap=self.softcap is not None,
            score_bias=self.score_bias, rope_dim=rope_dim,
        )

    def _rope_dim(self, inputs: tuple[Shape, ...], role: dict[str, int], head_dim: Value) -> Value:
        if "rotary" not in role:
            return 0
        table = inputs[role["rotary"]]
        if len(table) != 3 or not definitely_equal(table[0], 1):
            raise LayerError(f"the rotary input {format_shape(table)} is not a RotaryEmbedding table (1, L, 2*dim)")
        rope_dim = exact_div(table[-1], 2, "the rotary table's last dim (cos and sin)")
        if not definitely_equal(table[1], inputs[0][-2]):
            raise LayerError(f"the rotary table covers {table[1]} positions, the input has {inputs[0][-2]}")
        return rope_dim

    def _check_score_bias(self, inputs: tuple[Shape, ...], role: dict[str, int]) -> None:
        if "score_bias" not in role:
            return
        bias = inputs[role["score_bias"]]
        if len(bias) != 4 or not (definitely_equal(bias[1], self.num_heads) or definitely_equal(bias[1], 1)):
            raise LayerError(f"the score bias {format_shape(bias)} must broadcast to (N, {self.num_heads}, L, S)")

    def output_shape(self, *inputs: Shape) -> Shape:
        self.parts(*inputs)
        return inputs[0]

    def _qk_norms(self, parts: AttentionParts) -> list[tuple[RMSNorm, Shape]]:
        """The q and k norms (qk_norm) with the shapes they normalize."""
        if self.qk_norm == "none":
            return []
        norm = RMSNorm(type="RMSNorm", weight_offset=self.qk_norm_offset, kernel="eager")
        q_rows, k_rows = parts.lead * parts.queries, parts.lead * parts.keys
        if self.qk_norm == "head":
            return [(norm, (q_rows, parts.heads, parts.head_dim)), (norm, (k_rows, parts.kv_heads, parts.head_dim))]
        return [(norm, (q_rows, parts.heads * parts.head_dim)), (norm, (k_rows, parts.kv_heads * parts.head_dim))]

    def param_count(self, *inputs: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.params() + sum(norm.param_count(shape) for norm, shape in self._qk_norms(parts))

    def macs(self, *inputs: Shape, out: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.projection_macs() + parts.score_macs()

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.other_flops() + sum(norm.other_flops(shape, shape) for norm, shape in self._qk_norms(parts))

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        role = self.roles(inputs)
        projected = (0, role["memory"]) if "memory" in role else (0,)
        parts = self.parts(*inputs)
        saved = parts.saved(self.kernel, self.dropout, inputs=projected, rope=role.get("rotary"))
        for norm, shape in self._qk_norms(parts):
            # HF's written-out RMSNorm keeps its input, 1/rms per row and the normalized input
            rows = product(shape[:-1])
            saved += (Saved(numel=product(shape)), Saved(numel=rows), Saved(numel=product(shape)))
            if self.qk_norm_offset:
                saved += (Saved(numel=shape[-1]),)
        return saved

    def weights_read(self, *inputs: Shape) -> Value:
        parts = self.parts(*inputs)
        if not parts.projected_keys:  # the memory's keys and values come from the cache
            return replace(parts, key_dim=0, value_dim=0, biases=(parts.projection_biases[0], False, False)).params()
        return parts.params()

    def cache_elements(self, *inputs: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.cache() if self.causal or parts.cross else 0

    def internal_elements(self, *inputs: Shape) -> Value:
        return self.parts(*inputs).score_traffic(self.kernel, self.dropout)

    def tensor_parallel(self, tp, split, *inputs):
        """heads: Q, K, V projections column-parallel by heads, the output row-parallel."""
        return TensorParallel("heads", self.parts(*inputs).params_per_rank(tp))

    def cache_read_elements(self, *inputs: Shape) -> Value:
        parts = self.parts(*inputs)
        return parts.cache_read() if self.causal or parts.cross else 0

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "Attention":
        if self.causal:
            return self.model_copy(update={"past": past})
        memory = self.roles(live).get("memory")
        if memory is not None and not live[memory]:  # computed from the encoder: cached
            return self.model_copy(update={"memory_cached": True})
        return self


@register
class MultiheadAttention(Layer):
    """torch.nn.MultiheadAttention: inputs query, key, value (`from: [q, k, v]`), or one
    input for self-attention. Layout (L, N, E), or (N, L, E) with batch_first, or (L, E).
    Costs as Attention with H heads of E/H, key/value dims kdim and vdim, and bias on all
    four projections (the attention weights output is not counted).
    """

    type: Literal["MultiheadAttention"]
    embed_dim: Size | None = Field(None, description="inferred from the query's last dim; checked when given")
    num_heads: Size
    dropout: real(0, 1) = Field(0.0, description="dropout probability on the attention weights in training")
    bias: bool = True
    kdim: Size | None = Field(None, description="the key's dim; default: inferred from the key input")
    vdim: Size | None = Field(None, description="the value's dim; default: inferred from the value input")
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
        for name, shape in (("query", query), ("key", key), ("value", value)):
            if len(shape) not in (2, 3):
                raise LayerError(f"{name} {format_shape(shape)} must be (L, N, E), (N, L, E) with batch_first, or (L, E)")
        embed = self.check_inferred("embed_dim", query[-1])
        kdim = self.check_inferred("kdim", key[-1])
        vdim = self.check_inferred("vdim", value[-1])
        seq = 1 if self.batch_first and len(query) == 3 else 0
        lead = query[1 - seq] if len(query) == 3 else 1
        head_dim = exact_div(embed, self.num_heads, "embed_dim must be divisible by num_heads")
        return AttentionParts(
            lead, query[seq], key[seq], self.num_heads, self.num_heads, head_dim,
            embed, kdim, vdim, embed, self.bias, self.bias, cross=len(inputs) > 1,
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

    def internal_elements(self, *inputs: Shape) -> Value:
        return self.parts(*inputs).score_traffic("eager" if self.need_weights else "fused", self.dropout)

    def tensor_parallel(self, tp, split, *inputs):
        """heads: as Attention."""
        return TensorParallel("heads", self.parts(*inputs).params_per_rank(tp))

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        # F.multi_head_attention_forward projects a single input (self-attention) with one
        # packed in_proj, so Q, K and V are views of one tensor; separate inputs get three.
        path = "eager-scaled-query" if self.need_weights else "fused"
        return self.parts(*inputs).saved(path, self.dropout, packed=len(inputs) == 1, inputs=tuple(range(len(inputs))))

