"""Peers' memory estimators, reproduced: Megatron-LM's theoretical memory and DeepSpeed's ZeRO
model-state estimators, so a user can set them beside archspec's per-device figures and see
why they disagree (docs/parallel.md).

- megatron: `megatron/training/theoretical_memory_usage.py` (Megatron-LM main, 2026-06):
  weights + optimizer of the most loaded shard at 18 bytes per parameter (6 + 12/dp with
  the distributed optimizer), and activations by Korthikanti et al.'s Table 2 (only with
  sequence parallelism and selective recomputation; otherwise sbh(10 + 24/t) per layer,
  times 1.05). It reads the model's shape (hidden size, heads, groups, FFN, experts, ...)
  from the analyzed spec's first decoder layers.
- deepspeed: `estimate_zero2_model_states_mem_needs` / `estimate_zero3_model_states_mem_needs`
  (DeepSpeed 0.19.8): GPU and CPU bytes of the model states, without offload.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archspec.errors import ArchspecError
from archspec.parallel.layout import Layout
from archspec.parallel.pipeline import units_of
from archspec.report import Report


class ProfileError(ArchspecError):
    """A spec a peer's estimator cannot describe (no decoder stack, a layer it does not model)."""


@dataclass(frozen=True)
class MegatronModel:
    """The inputs of Megatron's estimator, as its argument names say."""

    hidden_size: int
    num_attention_heads: int
    num_query_groups: int
    kv_channels: int
    ffn_hidden_size: int
    swiglu: bool
    normalization: str
    padded_vocab_size: int
    untie_embeddings_and_output_weights: bool
    num_layers: int
    seq_length: int
    micro_batch_size: int
    num_experts: int | None = None
    moe_ffn_hidden_size: int = 0
    moe_router_topk: int = 1
    moe_layer_pattern: tuple[int, ...] = ()
    moe_shared_expert_intermediate_size: int | None = None


def megatron_model(report: Report) -> MegatronModel:
    """Read Megatron's inputs off an analyzed decoder (its layer stack of attention and MLP / MoE)."""
    units = units_of(report)
    rows_of = {key: [row for row in report.layers if row.path[: len(key)] == key] for key in units}
    attention = next((row for key in units for row in rows_of[key] if row.type == "Attention"), None)
    if attention is None:
        raise ProfileError("the megatron profile reads a decoder: a stack of blocks with Attention layers (LatentAttention, Mamba and convolutions are not in its estimator)")
    parts = attention.layer.parts(*attention.input_shapes)
    pattern, dense_ffn, gated, experts, moe_ffn, topk, shared = [], None, False, None, 0, 1, None
    for key in units:
        rows = rows_of[key]
        routed = [row for row in rows if row.experts is not None and row.type == "Linear"]
        pattern.append(1 if routed else 0)
        if routed:
            experts, topk = routed[0].experts
            moe_ffn = routed[0].layer.out_features
            shared_rows = [row for row in rows if "shared_experts" in row.path and row.type == "Linear"]
            shared = shared_rows[0].layer.out_features if shared_rows else None
            gated = gated or sum(1 for row in routed if row.layer.out_features == moe_ffn) >= 2
        else:
            mlp = [row for row in rows if row.type == "Linear"]
            if mlp and dense_ffn is None:
                dense_ffn = mlp[0].layer.out_features
                gated = sum(1 for row in mlp if row.layer.out_features == dense_ffn) >= 2
    norms = {row.type for key in units for row in rows_of[key] if row.type in ("RMSNorm", "LayerNorm")}
    embedding = next((row for row in report.layers if row.type == "Embedding" and len(row.path) == 1), None)
    if embedding is None or not norms:
        raise ProfileError("the megatron profile reads a decoder with a token Embedding and norms")
    tied = any(row.shares == embedding.name for row in report.layers)
    return MegatronModel(
        hidden_size=parts.query_dim, num_attention_heads=parts.heads, num_query_groups=parts.kv_heads,
        kv_channels=parts.head_dim, ffn_hidden_size=dense_ffn or moe_ffn, swiglu=gated,
        normalization="RMSNorm" if norms == {"RMSNorm"} else "LayerNorm",
        padded_vocab_size=embedding.layer.num_embeddings, untie_embeddings_and_output_weights=not tied,
        num_layers=len(units), seq_length=parts.queries, micro_batch_size=parts.lead,
        num_experts=experts, moe_ffn_hidden_size=moe_ffn, moe_router_topk=topk, moe_layer_pattern=tuple(pattern),
        moe_shared_expert_intermediate_size=shared,
    )


def megatron_weight_and_optimizer(model: MegatronModel, layout: Layout) -> Fraction:
    """compute_weight_and_optimizer_memory: the most loaded shard's parameters at 18 bytes
    (6 + 12/dp with the distributed optimizer); experts by EP and their data-parallel size."""
    m, t, p = model, layout.tp, layout.pp
    groups = m.num_query_groups
    norm = 1 if m.normalization == "RMSNorm" else 2
    gated = Fraction(3, 2) if m.swiglu else 1
    query_ratio = Fraction(m.kv_channels * m.num_attention_heads, m.hidden_size)
    attention = 2 * m.hidden_size * m.hidden_size * (1 + Fraction(groups, m.num_attention_heads)) * query_ratio
    dense = 2 * m.hidden_size * m.ffn_hidden_size * gated
    shared = 2 * m.hidden_size * (m.moe_shared_expert_intermediate_size or 0) * gated
    routed = 2 * m.hidden_size * m.moe_ffn_hidden_size * (m.num_experts or 1) * gated if m.num_experts else 0
    router = m.hidden_size * m.num_experts if m.num_experts else 0
    moe_layers = sum(m.moe_layer_pattern)
    dense_layers = m.num_layers - moe_layers
    embedding = m.hidden_size * m.padded_vocab_size
    layernorms = 2 * m.hidden_size * norm
    tp_sharded = (attention + dense) * dense_layers + (attention + shared) * moe_layers
    replicated = layernorms * dense_layers + (layernorms + router) * moe_layers + norm * m.hidden_size
    expert_sharded = routed * moe_layers
    on_shard = (Fraction(tp_sharded, p) + embedding) / t
    replicated_on_shard = Fraction(replicated, p)
    expert_on_shard = Fraction(expert_sharded, p) / (t * layout.ep)
    if m.untie_embeddings_and_output_weights and p == 1:
        on_shard += Fraction(embedding, t)
    world = layout.dp * t * p
    expert_data = world // (t * layout.ep * p)

    def bytes_per_param(data: int) -> Fraction:
        return Fraction(6) + Fraction(12, data) if layout.distributed_optimizer else Fraction(18)

    return (on_shard + replicated_on_shard) * bytes_per_param(layout.dp) + expert_on_shard * bytes_per_param(expert_data)


def megatron_activations(model: MegatronModel, layout: Layout) -> Fraction:
    """compute_activation_memory (sequence parallel and selective recompute) or
    compute_activation_memory_without_sp: the first stage's activations, in bytes."""
    m, t, p = model, layout.tp, layout.pp
    s, b, h = m.seq_length, m.micro_batch_size, m.hidden_size
    with_sp = layout.sp and layout.recompute == "selective"
    per_layer = s * b * h * ((18 + 4 * Fraction(m.ffn_hidden_size, h)) if with_sp else (10 + Fraction(24, t)))
    memory = per_layer * m.num_layers + 8 * s * b * p + s * b * h * p
    if layout.virtual_stages > 1:
        memory *= 1 + Fraction(p - 1, p * layout.virtual_stages)
    elif p > 1:
        memory *= min(1, Fraction(layout.microbatches, p))
    if with_sp:
        if p == 1:
            memory += s * b * h * 4 * (1 + Fraction(m.padded_vocab_size, h))
        return memory / t
    if p == 1:
        memory += (Fraction(s * b * m.padded_vocab_size, t) + s * b * h) * 2
    return memory * Fraction(105, 100)


def largest_layer_params(report: Report) -> int:
    """DeepSpeed's largest_layer_params: the most parameters one module holds itself (a row)."""
    return max((row.params for row in report.layers if isinstance(row.params, int)), default=0)


def deepspeed_model_states(stage: int, total_params: int, largest_layer_params: int, gpus_per_node: int, nodes: int) -> dict[str, Any]:
    """DeepSpeed's estimate_zero2/zero3_model_states_mem_needs without offload: GPU and CPU bytes."""
    gpus = gpus_per_node * nodes
    # DeepSpeed's own float arithmetic, kept: its figures are int() of these products
    if stage == 2:
        gpu = 2 * total_params + int(18 * total_params / gpus)
        cpu = total_params * 4 * gpus_per_node * 1.5
    elif stage == 3:
        gpu = 4 * largest_layer_params + int(18 * total_params / gpus)
        cpu = largest_layer_params * 4 * gpus_per_node * 1.5  # zero_init
    else:
        raise ProfileError(f"DeepSpeed estimates ZeRO stages 2 and 3, not {stage}")
    return {"gpu": int(gpu), "cpu": int(cpu)}
