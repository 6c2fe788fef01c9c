"""Per-device memory and communication (archspec/parallel): invariants and closed forms."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.memory import MemoryOptions, memory
from archspec.parallel import Layout, LayoutError, parallel_memory
from tests.conftest import SPECS

OPTIONS = MemoryOptions(dtype="bf16", grad_dtype="fp32", optimizer="adam")


@pytest.mark.parametrize("spec", ["gpt2.yaml", "llama3_8b.yaml", "mixtral_8x7b.yaml", "resnet50.yaml", "t5_small.yaml"])
def test_one_device_gives_the_single_device_figures(spec):
    report = archspec.analyze(SPECS / spec, L=256) if "resnet" not in spec else archspec.analyze(SPECS / spec)
    one = parallel_memory(report, OPTIONS, Layout()).devices["most_loaded"]
    whole = memory(report, OPTIONS).totals
    for key in ("weights", "gradients", "optimizer", "master_weights", "saved_activations"):
        assert one[key] == whole[key], key


def gpt(layers=4, width=64, heads=4, batch=2, length=16):
    spec = {
        "params": {"B": batch, "L": length, "D": width, "N": layers},
        "inputs": {"x": {"shape": ["B", "L", "D"], "dtype": "bfloat16"}},  # as the layers' activations
        "blocks": {"Layer": {"layers": [
            {"name": "ln1", "type": "LayerNorm"},
            {"name": "attn", "type": "Attention", "num_heads": heads, "causal": True},
            {"name": "r1", "type": "Add", "from": ["attn", "input"]},
            {"name": "ln2", "type": "LayerNorm"},
            {"name": "fc1", "type": "Linear", "out_features": "4 * D", "bias": False},
            {"name": "act", "type": "GELU"},
            {"name": "fc2", "type": "Linear", "out_features": "D", "bias": False},
            {"name": "r2", "type": "Add", "from": ["fc2", "r1"]},
        ]}},
        "layers": [{"name": "layers", "type": "Layer", "repeat": "N"}],
    }
    return archspec.analyze(spec)


@given(st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 3]), st.sampled_from([0, 1, 2, 3]))
@settings(max_examples=30)
def test_sharded_states_add_up_to_the_whole_where_nothing_is_replicated(tp, pp, dp, zero):
    report = gpt(layers=4)
    result = parallel_memory(report, OPTIONS, Layout(tp=tp, pp=pp, dp=dp, zero=zero))
    whole = memory(report, OPTIONS).totals
    # only the LayerNorms and the attention's output bias are replicated over tp
    replicated = 4 * (2 * 2 * 64 + 64)
    sharded_params = (whole["weights"] // 2 - replicated) / tp + replicated
    devices_per_stage = [stage["weights"] for stage in result.stages]
    total_weights = sum(devices_per_stage) * (dp if zero == 3 else 1)
    assert total_weights == pytest.approx(2 * sharded_params, abs=2 * dp * pp)  # ceil per rank
    total_optimizer = sum(stage["optimizer"] for stage in result.stages) * (dp if zero >= 1 else 1)
    assert total_optimizer == pytest.approx(8 * sharded_params, abs=8 * dp * pp)


def test_tensor_parallel_activations_follow_korthikantis_split():
    # per layer: the block input (LN input), the LN output feeding Q/K/V and fc1, the masks stay
    # whole; Q, K, V, scores, context, GELU's input and fc2's input divide by t
    report = gpt(layers=1, batch=1, length=8)
    one = parallel_memory(report, OPTIONS, Layout()).devices["most_loaded"]["saved_activations"]
    split = parallel_memory(report, OPTIONS, Layout(tp=4)).devices["most_loaded"]["saved_activations"]
    sequence = parallel_memory(report, OPTIONS, Layout(tp=4, sp=True)).devices["most_loaded"]["saved_activations"]
    assert sequence == one // 4  # sequence parallelism divides everything
    assert one // 4 < split < one


def comm(report, **layout):
    return parallel_memory(report, OPTIONS, Layout(**layout)).communication[0]


def test_tensor_parallel_traffic_is_megatrons_per_layer():
    # per layer and micro-batch: 2 all-reduces forward, 2 backward of s*b*h (Narayanan et al. 2021,
    # sec. 3.2: 8 s b h (t-1)/t elements); with sequence parallelism 4 all-gathers + 4
    # reduce-scatters, and the column-parallel inputs all-gathered again in backward: 10 (t-1)/t
    layers, t, batch, length, width = 4, 4, 2, 16, 64
    report = gpt(layers=layers, batch=batch, length=length, width=width)
    x = length * batch * width * 2  # bf16 bytes of one layer's activation
    plain = comm(report, tp=t, microbatches=3)["tp"]
    assert plain == {"all_reduce": 3 * layers * 4 * x * 2 * (t - 1) // t}
    sequence = comm(report, tp=t, sp=True, microbatches=3)["tp"]
    assert sum(sequence.values()) == 3 * layers * 10 * x * (t - 1) // t


def test_data_and_pipeline_traffic():
    report = gpt(layers=4, batch=2, length=16, width=64)
    params = report.totals["params"]
    assert comm(report, dp=8)["dp"] == {"all_reduce": 2 * params * 4 * 7 // 8}  # fp32 gradients, ring all-reduce
    zero1 = comm(report, dp=8, zero=1)["dp"]
    assert zero1 == {"reduce_scatter": params * 4 * 7 // 8, "all_gather": params * 2 * 7 // 8}
    zero3 = comm(report, dp=8, zero=3, microbatches=2)["dp"]
    assert zero3["all_gather"] == 2 * 2 * params * 2 * 7 // 8  # forward and backward, every micro-batch
    middle = parallel_memory(report, OPTIONS, Layout(pp=4, microbatches=5)).communication[1]["pp"]
    assert middle == {"p2p": 2 * 5 * 2 * 16 * 64 * 2}  # activation forward and gradient backward, per micro-batch


def test_the_first_stage_keeps_the_most_micro_batches():
    report = gpt(layers=8)
    result = parallel_memory(report, OPTIONS, Layout(pp=4, microbatches=8))
    saved = [stage["saved_activations"] for stage in result.stages]
    per_micro_batch = saved[-1]
    assert saved == [4 * per_micro_batch, 3 * per_micro_batch, 2 * per_micro_batch, per_micro_batch]
    assert result.most_loaded_stage == 0


def test_invalid_layouts_are_clear_errors():
    report = gpt(layers=6, heads=4)
    with pytest.raises(LayoutError, match="num_heads=4 must be divisible by tp=8"):
        parallel_memory(report, OPTIONS, Layout(tp=8))
    with pytest.raises(LayoutError, match="6 layers, not divisible by pp=4"):
        parallel_memory(report, OPTIONS, Layout(pp=4))
    moe = archspec.analyze(SPECS / "mixtral_8x7b.yaml", L=64, n_layer=2)
    with pytest.raises(LayoutError, match="num_experts=8 must be divisible by ep=3"):
        parallel_memory(moe, OPTIONS, Layout(ep=3, dp=3))
    with pytest.raises(LayoutError, match="--zero takes"):
        parallel_memory(report, OPTIONS, Layout(zero=4))


def test_pinned_stages_split_an_uneven_stack():
    report = archspec.analyze(SPECS / "llama3_405b.yaml", L=128, n_layer=126)
    result = parallel_memory(report, OPTIONS, Layout(pp=16, first_stage_layers=7, last_stage_layers=7))
    weights = [stage["weights"] for stage in result.stages]
    assert weights[1] == weights[2] > weights[-1]


def test_a_sweep_over_layout_sizes_and_the_batch_equals_per_point_layouts():
    result = archspec.sweep(SPECS / "llama3_8b.yaml", {"tp": [1, 2, 8], "pp": [1, 4], "B": [1, 2]}, ["training_total", "saved_activations"],
                            bindings={"L": 1024}, memory=OPTIONS)
    assert len(result.rows) == 12 and result.method == "grouped"
    for row in result.rows:
        report = archspec.analyze(SPECS / "llama3_8b.yaml", L=1024, B=row["B"])
        device = parallel_memory(report, OPTIONS, Layout(tp=row["tp"], pp=row["pp"])).devices["most_loaded"]
        assert (row["training_total"], row["saved_activations"]) == (device["total"], device["saved_activations"])


def test_memory_metrics_sweep_vectorized_over_the_batch():
    result = archspec.sweep(SPECS / "gpt2.yaml", {"B": [1, 3, 8]}, ["params", "training_total"], memory=OPTIONS)
    assert result.method == "vectorized"
    for row in result.rows:
        assert row["training_total"] == memory(archspec.analyze(SPECS / "gpt2.yaml", B=row["B"]), OPTIONS).totals["training_total"]


def test_free_layout_sizes_give_formulas():
    from archspec.dims import evaluate_at
    from archspec.symbolic import symbol

    report = archspec.analyze(SPECS / "llama3_8b.yaml", B=1, L=512)
    free = parallel_memory(report, OPTIONS, Layout(tp=symbol("tp"), dp=symbol("dp"), zero=1)).devices["most_loaded"]
    for tp, dp in [(1, 1), (2, 4), (8, 16)]:
        bound = parallel_memory(report, OPTIONS, Layout(tp=tp, dp=dp, zero=1)).devices["most_loaded"]
        assert evaluate_at(free["total"], {"tp": tp, "dp": dp}) == bound["total"]


def test_expert_parallel_all_to_all_sends_every_routed_copy_to_the_other_ranks():
    # per MoE layer and micro-batch each device sends each of its tokens' k routed copies (D
    # values each, bf16) to the ranks holding those experts, 4 times: dispatch and combine,
    # forward and backward; with experts spread evenly, (ep - 1)/ep of the copies leave the device
    layers, batch, length, k, width, ep = 2, 1, 16, 2, 4096, 8
    report = archspec.analyze(SPECS / "mixtral_8x7b.yaml", B=batch, L=length, n_layer=layers)
    sent = comm(report, ep=ep, dp=ep)["ep"]
    assert sent == {"all_to_all": layers * 4 * batch * length * k * width * 2 * (ep - 1) // ep}


@pytest.mark.parametrize("ep, node", [(8, 4), (4, 2)])
def test_node_limited_dispatch_crosses_to_each_node_once_and_fans_out_inside_it(ep, node):
    # --ep-dispatch node over N = ep/node nodes of g = node ranks: a token goes to each other node
    # that holds any of its experts once (the mean over every routing of the distinct nodes, times
    # the (N - 1)/N chance that a node is another one), then to each rank holding any of its
    # experts other than the receiving one ((g - 1)/g); with ep 4 a rank holds 2 of the 8 experts
    from archspec.symbolic import symbol
    from tests.layers.test_moe import _brute_destinations

    layers, batch, length, k, width = 2, 1, 16, 2, 4096
    nodes = ep // node
    report = archspec.analyze(SPECS / "mixtral_8x7b.yaml", B=batch, L=length, n_layer=layers)
    sent = comm(report, ep=ep, dp=ep, ep_dispatch="node", node_size=node)
    per_copy = layers * 4 * batch * length * width * 2
    across = per_copy * _brute_destinations(8, k, nodes, 0, 0) * (nodes - 1) / nodes
    within = per_copy * _brute_destinations(8, k, ep, 0, 0) * (node - 1) / node
    # an expected byte count is rounded up to whole bytes once per layer and transfer
    assert 0 <= sent["ep"]["all_to_all"] - across < layers * 4
    assert 0 <= sent["ep_node"]["forward"] - within < layers * 4
    # within one node the dispatch is the all-to-all of every routed copy
    assert comm(report, ep=ep, dp=ep, ep_dispatch="node", node_size=ep) == comm(report, ep=ep, dp=ep)
    with pytest.raises(LayoutError, match="whole nodes of 3 devices"):
        comm(report, ep=ep, dp=ep, ep_dispatch="node", node_size=3)
    with pytest.raises(LayoutError, match="tp and ep as numbers"):
        comm(report, ep=symbol("ep"), dp=ep, ep_dispatch="node", node_size=node)


def test_an_lstm_on_cuda_keeps_seven_values_per_unit_and_step():
    # the unfused LSTM cell's backward needs, per hidden unit and step: the four gate activations
    # (i, f, g, o), the cell state c, tanh(c) and the output h (torch's LSTMCell derivative);
    # plus the layer's input
    steps, batch, features, hidden = 5, 3, 8, 16
    report = archspec.analyze({"inputs": {"x": {"shape": [steps, batch, features]}},
                               "layers": [{"type": "LSTM", "hidden_size": hidden, "proj_size": 4}]})
    saved = memory(report, MemoryOptions(device="cuda")).totals["saved_activations"]
    assert saved == 4 * (steps * batch * features + 7 * steps * batch * hidden)


MIXED_PRECISION_ADAM = MemoryOptions(dtype="fp16", grad_dtype="fp16", optimizer="adam")  # 2 + 2 + K = 12 bytes/param


@pytest.mark.parametrize("zero", [0, 1, 2, 3])
def test_model_states_per_device_are_zeros_figure_1(zero):
    # Rajbhandari et al. 2020 (ZeRO, arXiv 1910.02054), Figure 1, for Psi parameters over N_d data-parallel
    # devices with mixed-precision Adam (K = 12: fp32 master weights, momentum, variance):
    # baseline (2 + 2 + K) Psi; P_os 2 Psi + 2 Psi + K Psi / N_d; P_os+g 2 Psi + (2 + K) Psi / N_d;
    # P_os+g+p (2 + 2 + K) Psi / N_d. Its example, Psi = 7.5B over N_d = 64: 120, 31.4, 16.6 and 1.9 GB.
    psi, devices, k = 7.5e9, 64, 12
    figure = [(2 + 2 + k) * psi, 4 * psi + k * psi / devices, 2 * psi + (2 + k) * psi / devices, (2 + 2 + k) * psi / devices]
    assert [round(value / 1e9, 1) for value in figure] == [120.0, 31.4, 16.6, 1.9]
    report = gpt(layers=4)
    params = report.totals["params"]
    assert params % devices == 0  # the paper's figures are exact shares
    states = parallel_memory(report, MIXED_PRECISION_ADAM, Layout(dp=devices, zero=zero)).devices["most_loaded"]
    per_device = sum(states[key] for key in ("weights", "gradients", "optimizer", "master_weights"))
    expected = [(2 + 2 + k) * params, 4 * params + k * params // devices, 2 * params + (2 + k) * params // devices,
                (2 + 2 + k) * params // devices][zero]
    assert per_device == expected
    assert states["gradients"] == (2 * params // devices if zero >= 2 else 2 * params)


def test_zero_keeps_each_optimizer_state_once_over_the_data_parallel_ranks_experts_included():
    # ZeRO-1 keeps each parameter's optimizer state on one data-parallel rank. With expert parallelism
    # (DeepSpeed-MoE: deepspeed/utils/groups.py, expert data-parallel groups of dp / ep ranks) a rank holds
    # E / ep experts, replicated on the dp / ep ranks of its expert data-parallel group, which shard their
    # states: every state is still held once over the dp ranks, so a rank holds 8 bytes (fp32 Adam) and
    # 4 (fp32 master weights) x every parameter / dp, whatever ep is.
    spec = {
        "params": {"B": 2, "T": 8, "D": 64},
        "inputs": {"x": {"shape": ["B", "T", "D"], "dtype": "bfloat16"}},
        "blocks": {"MLP": {"layers": [
            {"name": "up", "type": "Linear", "out_features": 128, "bias": False},
            {"name": "act", "type": "SiLU"},
            {"name": "down", "type": "Linear", "out_features": "D", "bias": False},
        ]}},
        "layers": [
            {"name": "moe", "type": "MoE", "num_experts": 8, "top_k": 2, "expert": "MLP"},
            {"name": "out", "type": "Linear", "out_features": "D", "bias": False},
        ],
    }
    report = archspec.analyze(spec)
    params, dp = report.totals["params"], 8
    assert params == 64 * 8 + 8 * 2 * 64 * 128 + 64 * 64
    for ep in (1, 2, 4, 8):
        states = parallel_memory(report, OPTIONS, Layout(dp=dp, ep=ep, zero=1)).devices["most_loaded"]
        assert (states["optimizer"], states["master_weights"]) == (8 * params // dp, 4 * params // dp), ep
