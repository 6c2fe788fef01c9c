"""Mixture of experts (archspec/layers/moe.py) against a brute-force routing of every token."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.dims import evaluate_at
from archspec.errors import SpecError
from archspec.memory import MemoryOptions, memory


def moe_spec(tokens, width, d_ff, experts, top_k, shared=0, norm_topk=True):
    """A one-layer spec: a mixture of SwiGLU experts (and a shared SwiGLU of `shared` width)."""
    layer = {"name": "moe", "type": "MoE", "num_experts": "E", "top_k": "k", "expert": "SwiGLU", "expert_args": {"ff": d_ff},
             "norm_topk": norm_topk}
    if shared:
        layer.update({"shared_expert": "SwiGLU", "shared_args": {"ff": shared}})
    return {
        "params": {"B": 1, "T": tokens, "D": width, "E": experts, "k": top_k},
        "inputs": {"x": {"shape": ["B", "T", "D"]}},
        "blocks": {"SwiGLU": {"args": {"ff": None}, "layers": [
            {"name": "w1", "type": "Linear", "out_features": "ff", "bias": False},
            {"name": "act", "type": "SiLU"},
            {"name": "w3", "type": "Linear", "out_features": "ff", "bias": False, "from": "input"},
            {"name": "gated", "type": "Mul", "from": ["act", "w3"]},
            {"name": "w2", "type": "Linear", "out_features": "D", "bias": False},
        ]}},
        "layers": [layer],
    }


def swiglu_macs_per_token(width, d_ff):
    return width * d_ff + width * d_ff + d_ff * width  # w1, w3, w2: one dot product per output


@given(st.integers(1, 12), st.integers(1, 8), st.integers(1, 8), st.integers(1, 6), st.data())
def test_macs_are_the_sum_over_each_tokens_chosen_experts(tokens, width, d_ff, experts, data):
    top_k = data.draw(st.integers(1, experts))
    rng = random.Random(tokens * 1000 + width)
    total = 0
    for _ in range(tokens):
        total += width * experts  # the router's logits: one dot product of D per expert
        for _expert in rng.sample(range(experts), top_k):  # each token goes to exactly top_k experts
            total += swiglu_macs_per_token(width, d_ff)
    report = archspec.analyze(moe_spec(tokens, width, d_ff, experts, top_k))
    assert report.totals["macs"] == total


@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 6), st.data(), st.sampled_from([0, 3]))
def test_params_count_every_expert_and_active_params_the_ones_a_token_uses(width, d_ff, experts, data, shared):
    top_k = data.draw(st.integers(1, experts))
    one_expert = 3 * width * d_ff
    router = width * experts
    shared_params = 3 * width * shared
    totals = archspec.analyze(moe_spec(4, width, d_ff, experts, top_k, shared)).totals
    assert totals["params"] == router + experts * one_expert + shared_params
    assert totals["active_params"] == router + top_k * one_expert + shared_params


def test_formulas_in_experts_and_top_k_equal_the_bound_analyses():
    free = archspec.analyze(moe_spec(16, 32, 64, 8, 2), E=None, k=None).totals
    for experts, top_k in [(2, 1), (8, 2), (64, 6), (256, 8)]:
        bound = archspec.analyze(moe_spec(16, 32, 64, experts, top_k)).totals
        for key in ("params", "active_params", "macs", "flops", "activations"):
            assert evaluate_at(free[key], {"E": experts, "k": top_k}) == bound[key], key


def test_router_and_combine_flops_follow_the_stated_operations():
    tokens, width, experts, top_k = 10, 4, 6, 2
    rows = {row.name: row for row in archspec.analyze(moe_spec(tokens, width, 3, experts, top_k)).layers}
    # softmax 5E - 2, top-k selection k passes of E - 1 comparisons, renormalise: k - 1 adds, k divides
    per_token = (5 * experts - 2) + top_k * (experts - 1) + (top_k - 1) + top_k
    assert rows["moe.gate"].flops == 2 * tokens * width * experts + tokens * per_token
    # combine: k multiplies by the weights and k - 1 adds per output element of each token
    assert rows["moe.combine"].flops == tokens * width * (top_k + top_k - 1)


def test_saved_activations_follow_the_routed_tokens():
    options = MemoryOptions(training=True)
    one = memory(archspec.analyze(moe_spec(32, 16, 24, 8, 1)), options).layers
    two = memory(archspec.analyze(moe_spec(32, 16, 24, 8, 2)), options).layers
    expert_bytes = {k: sum(layer["saved_activations"] for layer in layers if ".experts." in layer["name"]) for k, layers in ((1, one), (2, two))}
    assert expert_bytes[2] == 2 * expert_bytes[1] > 0  # twice the routed tokens, twice the kept tensors


def test_a_dense_then_moe_layer_pattern_uses_repeat_on_off():
    spec = moe_spec(8, 16, 32, 4, 2)
    spec["params"].update({"first_dense": 2, "n_layer": 5})
    spec["blocks"]["Layer"] = {"args": {"moe": None}, "layers": [
        {"name": "mlp", "type": "SwiGLU", "ff": 32, "repeat": "1 - moe"},
        {**spec["layers"][0], "repeat": "moe"},
        {"name": "residual", "type": "Add", "from": ["moe", "input"]},
    ]}
    spec["layers"] = [
        {"name": "dense", "type": "Layer", "moe": 0, "repeat": "first_dense"},
        {"name": "sparse", "type": "Layer", "moe": 1, "repeat": "n_layer - first_dense"},
    ]
    totals = archspec.analyze(spec).totals
    dense, one_expert, router = 3 * 16 * 32, 3 * 16 * 32, 16 * 4
    assert totals["params"] == 2 * dense + 3 * (router + 4 * one_expert)
    assert totals["active_params"] == 2 * dense + 3 * (router + 2 * one_expert)


def test_a_decode_step_reads_at_most_one_expert_per_routed_token():
    from archspec.memory import decode_traffic

    spec = moe_spec(1, 16, 32, 8, 2)
    spec["params"]["L"] = spec["params"].pop("T")
    spec["inputs"]["x"]["shape"] = ["B", "L", "D"]
    one_expert = 3 * 16 * 32 * 4  # float32 bytes
    for batch, touched in [(1, 2), (3, 6), (4, 8), (100, 8)]:
        report = archspec.analyze(spec, decode=True, B=batch, P=10)
        read = decode_traffic(report, MemoryOptions(training=False))["weights_read"]
        assert read == 16 * 8 * 4 + touched * one_expert


@pytest.mark.parametrize(
    "change, message",
    [
        ({"expert": "Nope"}, "unknown block 'Nope'"),
        ({"expert_args": {"width": 3}}, "unknown argument 'width' for block SwiGLU"),
        ({"expert_args": {}}, "missing required argument 'ff'"),
        ({"top_k": 9}, "top_k=9 is more than num_experts=8"),
    ],
)
def test_mistakes_are_located_errors(change, message):
    spec = moe_spec(4, 8, 8, 8, 2)
    spec["layers"][0].update(change)
    with pytest.raises(SpecError, match=message):
        archspec.analyze(spec, E=8)


# ---- expert dispatch: the distinct parts (ranks, nodes) a token's experts lie in -----------
def _brute_destinations(experts, k, parts, groups, topk_groups):
    """The mean, over every choice of a token's groups and then of its k experts among them, of
    the distinct parts those experts lie in (experts split in order into equal parts and groups)."""
    from fractions import Fraction
    from itertools import combinations

    per_part, per_group = experts // parts, experts // (groups or 1)
    group_choices = list(combinations(range(groups), topk_groups)) if groups else [None]
    mean = Fraction(0)
    for chosen in group_choices:
        allowed = range(experts) if chosen is None else [e for e in range(experts) if e // per_group in chosen]
        picks = list(combinations(allowed, k))
        mean += Fraction(sum(len({e // per_part for e in pick}) for pick in picks), len(picks))
    return mean / len(group_choices)


def _router(experts, k, groups=0, topk_groups=0):
    from archspec.layers.moe import MoE

    return MoE(type="MoE", num_experts=experts, top_k=k, expert="MLP", groups=groups, topk_groups=topk_groups).bind({})


@given(st.sampled_from([(8, 2), (8, 4), (12, 3), (16, 4), (16, 8), (12, 6)]), st.integers(1, 4), st.data())
def test_destinations_equal_the_mean_over_every_routing(sizes, k, data):
    # exact where each group spans whole parts (DeepSeek-V3: one group per node), and without groups
    experts, parts = sizes
    k = min(k, experts)
    groups = data.draw(st.sampled_from([0] + [g for g in range(1, parts + 1) if parts % g == 0]))
    topk_groups = data.draw(st.integers(1, groups)) if groups else 0
    if groups and k > topk_groups * experts // groups:
        k = topk_groups * experts // groups
    expected = _brute_destinations(experts, k, parts, groups, topk_groups)
    assert _router(experts, k, groups, topk_groups).destinations(parts) == pytest.approx(float(expected), rel=1e-12)


@given(st.sampled_from([(8, 2, 4), (8, 2, 8), (16, 4, 8), (16, 2, 8), (12, 3, 6)]), st.integers(1, 4), st.data())
def test_destinations_bound_the_mean_when_a_part_holds_several_groups(sizes, k, data):
    # several groups per part: the chosen groups are taken to lie on distinct parts, an upper bound
    experts, parts, groups = sizes
    topk_groups = data.draw(st.integers(1, groups))
    k = min(k, topk_groups * experts // groups)
    expected = _brute_destinations(experts, k, parts, groups, topk_groups)
    assert _router(experts, k, groups, topk_groups).destinations(parts) >= float(expected) - 1e-12


def test_deepseek_v3_reaches_at_most_four_nodes():
    # 256 experts in 8 groups, a token's 8 from its best 4 groups; one group per node over 8 nodes
    router = _router(256, 8, groups=8, topk_groups=4)
    assert 3.5 < router.destinations(8) < 4
    assert _router(256, 8).destinations(8) > 5  # without the limit: 5.3 of the 8 nodes
