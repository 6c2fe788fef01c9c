"""Mixture of experts: a router sends each token to top_k of num_experts expert networks.

    - {type: MoE, num_experts: 8, top_k: 2, expert: SwiGLU, expert_args: {d_ff: 14336}}

The expert network is any block of the spec (one input, same width out); an optional
shared expert block runs on every token. The analysis (archspec.engine) applies the
expert block once to the routed tokens, a (T*k, D) tensor for T tokens, so its MACs,
FLOPs and saved tensors follow the routed tokens, and counts its weights num_experts
times; `active_params` counts them top_k times (what one token touches). Around the
experts, two rows (docs/counting.md): the gate (router) and the combine:

    - gate: params = D*E (+ E with router_bias); MACs = T*D*E (the router's logits);
      other FLOPs = T * (softmax 5E - 2 or sigmoid 3E, + E with a correction bias, top-k
      selection k*(E - 1) comparisons, renormalisation 2k - 1 with norm_topk; with G groups:
      + G*(2*(E/G - 1) + 1) group scores (G*(E/G - 1) with group_score: max), topk_groups*(G - 1)
      comparisons, E selects)
    - combine: other FLOPs = T*k*D multiplies + T*(k - 1)*D adds (+ T*D with a shared expert)
"""

from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Any, ClassVar, Literal, Union

from pydantic import AfterValidator, Field, StrictInt, field_validator
from typing_extensions import Annotated

from archspec.dims import Value, product
from archspec.errors import ExprError, LayerError
from archspec.expr import parse
from archspec.layers import register
from archspec.layers.base import (
    Count,
    Layer,
    Saved,
    Shape,
    Size,
    TensorParallel,
    exact_div,
    format_shape,
)


def _block_args(values: dict[str, Any]) -> dict[str, Any]:
    parsed = {}
    for name, value in values.items():
        if value is None:
            raise ValueError(f"{name}: a block argument needs a value, found null")
        try:
            parsed[name] = parse(str(value) if isinstance(value, float) else value)
        except ExprError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return parsed


BlockArgs = Annotated[dict[str, Union[StrictInt, float, str]], AfterValidator(_block_args)]


@register
class MoE(Layer):
    """A mixture of experts layer (see the module docstring). Input (*, D) -> (*, D)."""

    type: Literal["MoE"]
    routes_experts: ClassVar[bool] = True  # the engine applies its expert blocks (engine.apply_moe)
    num_experts: Size
    top_k: Size
    expert: str = Field(description="the block every routed expert is (one input, the model width out)")
    expert_args: BlockArgs = Field(default_factory=dict, description="arguments of the expert block")
    shared_expert: str | None = Field(None, description="a block every token also passes (DeepSeek, Qwen2-MoE)")
    shared_args: BlockArgs = Field(default_factory=dict, description="arguments of the shared expert block")
    router: Literal["softmax", "sigmoid"] = Field("softmax", description="how the router scores experts")
    router_bias: bool = Field(False, description="a bias on the router's logits")
    correction_bias: bool = Field(False, description="a per-expert buffer added to the scores for the choice (DeepSeek-V3)")
    norm_topk: bool = Field(True, description="renormalise the top-k weights to sum to 1")
    groups: Count = Field(0, description="group-limited routing (DeepSeek-V3): experts in this many groups; 0: none")
    topk_groups: Count = Field(0, description="with groups: the groups a token's experts may come from")
    group_score: Literal["top2", "max"] = Field(
        "top2", description="with groups: a group's score, the sum of its best two scores (DeepSeek-V3) or its best "
        "one (max: DeepSeek-V2's group_limited_greedy)")
    arity: ClassVar[tuple[int, int | None]] = (1, 1)

    @field_validator("expert", "shared_expert")
    @classmethod
    def _is_name(cls, value: str | None) -> str | None:
        if value is not None and not value.isidentifier():
            raise ValueError(f"expected the name of a block, found {value!r}")
        return value

    def blocks(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The blocks this layer applies, by role: {"experts": (name, args), "shared_experts": ...}."""
        found = {"experts": (self.expert, self.expert_args)}
        if self.shared_expert is not None:
            found["shared_experts"] = (self.shared_expert, self.shared_args)
        return found

    # ---- the gate row: router logits, scores, choice; its output is the dispatched tokens
    def output_shape(self, x: Shape) -> Shape:
        """The tokens the experts process: every token top_k times, (T*k, D)."""
        if len(x) < 2:
            raise LayerError(f"expected an input (*, D), got {format_shape(x)}")
        if isinstance(self.top_k, int) and isinstance(self.num_experts, int) and self.top_k > self.num_experts:
            raise LayerError(f"top_k={self.top_k} is more than num_experts={self.num_experts}")
        return (product(x[:-1]) * self.top_k, x[-1])

    def param_count(self, x: Shape) -> Value:
        return x[-1] * self.num_experts + (self.num_experts if self.router_bias else 0)

    def buffer_count(self, x: Shape) -> Value:
        return self.num_experts if self.correction_bias else 0

    def macs(self, x: Shape, out: Shape) -> Value:
        return product(x[:-1]) * x[-1] * self.num_experts

    def other_flops(self, x: Shape, out: Shape) -> Value:
        experts, k = self.num_experts, self.top_k
        scores = 5 * experts - 2 if self.router == "softmax" else 3 * experts
        per_token = scores + experts * (int(self.router_bias) + int(self.correction_bias)) + k * (experts - 1)
        per_token += (2 * k - 1) if self.norm_topk else 0
        if self.groups:
            # each group's score is the sum of its top 2 (2 passes of a max, an add) or its max (one pass);
            # the top groups (topk_groups passes over the groups); the others masked out (a select per expert)
            per_group = exact_div(experts, self.groups, "num_experts must be divisible by groups")
            score = 2 * (per_group - 1) + 1 if self.group_score == "top2" else per_group - 1
            per_token += self.groups * score + self.topk_groups * (self.groups - 1) + experts
        return product(x[:-1]) * per_token

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        """The router's input, its float32 scores, the chosen experts' indices (and, with
        norm_topk, the weights and their sum per token, which the renormalisation divides)."""
        tokens, k = product(x[:-1]), self.top_k
        norm = (Saved(numel=tokens * k), Saved(numel=tokens)) if self.norm_topk else ()
        # group-limited routing: the top 2 (or the max) per group, the chosen groups, the mask over the experts
        per_group = 2 if self.group_score == "top2" else 1
        grouped = (
            (Saved(numel=tokens * self.groups * per_group, dtype="int64"), Saved(numel=tokens * self.topk_groups, dtype="int64"),
             Saved(numel=tokens * self.num_experts, dtype="bool"))
            if self.groups else ()
        )
        return (
            Saved(input=0), Saved(numel=tokens * self.num_experts, dtype="float32"), *grouped,
            Saved(numel=tokens * k, dtype="int64"), *norm,
        )

    def destinations(self, parts: int) -> Fraction:
        """Expected distinct parts a token's top_k experts lie in, the experts split in order into
        `parts` equal parts (expert-parallel ranks, or the nodes they fill), routing uniform over
        the experts a token may use (docs/parallel.md, expert dispatch)."""
        experts, k = self.num_experts, self.top_k
        if not all(isinstance(v, int) for v in (experts, k, self.groups, self.topk_groups)):
            raise LayerError("expert dispatch by destination needs num_experts, top_k and the groups as numbers")
        per_part = exact_div(experts, parts, f"num_experts={experts} must be divisible by {parts} parts")
        reachable = parts
        if self.groups and self.topk_groups:
            # the topk_groups groups a token may use, each over parts/groups parts (at least one),
            # taken to lie on distinct parts (DeepSeek-V3 places one group per node)
            reachable = min(parts, self.topk_groups * max(1, parts // self.groups))
        pool = per_part * reachable
        if k > pool:
            raise LayerError(f"top_k={k} is more than the {pool} experts a token may use")
        return reachable * (1 - Fraction(comb(pool - per_part, k), comb(pool, k)))

    def combine(self, x: Shape) -> "MoECombine":
        """The row after the experts: their outputs weighted and summed per token."""
        return MoECombine.model_construct(
            type="MoECombine", top_k=self.top_k, tokens_shape=tuple(x), shared=self.shared_expert is not None
        )


class MoECombine(Layer):
    """The weighted sum of each token's top_k expert outputs (plus the shared expert's):
    inputs the experts' outputs (T*k, D) [and the shared expert's (*, D)] -> (*, D).

    - other FLOPs = T*k*D multiplies + T*(k - 1)*D adds (+ T*D with a shared expert)
    - saved (as HuggingFace's per-expert loop: gather, weight, index_add_): the experts'
      outputs and the weighted outputs, each routed token's weight, and its token and
      position indices (int64)
    """

    type: Literal["MoECombine"]
    top_k: Any
    tokens_shape: Any
    shared: bool = False
    arity: ClassVar[tuple[int, int | None]] = (1, 2)

    def output_shape(self, *inputs: Shape) -> Shape:
        return self.tokens_shape

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        tokens, width, k = product(self.tokens_shape[:-1]), self.tokens_shape[-1], self.top_k
        return tokens * (k * width + (k - 1) * width + (width if self.shared else 0))

    def tensor_parallel(self, tp, split, *inputs):
        """elementwise: the experts' outputs are summed by the row-parallel layer that makes them."""
        return TensorParallel("elementwise", 0)

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        routed = product(inputs[0][:-1])
        return (
            Saved(input=0), Saved(numel=product(inputs[0])), Saved(numel=routed),
            Saved(numel=routed, dtype="int64"), Saved(numel=routed, dtype="int64"),
        )
