"""Example figures the peers publish in their READMEs and test suites, each with its source."""

import archspec
from tests.conftest import SPECS


def _single(layer: dict, shape: list[int]) -> dict:
    return {"name": "example", "inputs": {"x": {"shape": shape}}, "layers": [layer]}


def test_thop_readme_conv():
    # ultralytics/thop README / Lyken17 tests/test_conv2d.py: Conv2d(3, 12, 5, padding=1) on 1x3x32x32
    spec = _single({"type": "Conv2d", "out_channels": 12, "kernel_size": 5, "padding": 1}, [1, 3, 32, 32])
    assert archspec.analyze(spec, convention="thop").totals["macs"] == 810_000


def test_ptflops_conv_example():
    # sovrasov/flops-counter.pytorch tests: Conv2d(3, 2, 3) at 3x224x224 -> 2,759,904 MACs (bias counted)
    spec = _single({"type": "Conv2d", "out_channels": 2, "kernel_size": 3}, [1, 3, 224, 224])
    for backend in ("ptflops-pytorch", "ptflops-aten"):
        assert archspec.analyze(spec, convention=backend).totals["macs"] == 2_759_904


def test_torchinfo_single_input_net():
    # TylerYep/torchinfo tests/test_output/single_input.out: SingleInputNet at (2, 1, 28, 28),
    # "Total mult-adds (M): 0.98" = 975,200 (conv1 149,760 + conv2 321,280 + fc1 16,050 + fc2 510, x2)
    spec = {
        "name": "single_input_net",
        "inputs": {"x": {"shape": [2, 1, 28, 28]}},
        "layers": [
            {"name": "conv1", "type": "Conv2d", "out_channels": 10, "kernel_size": 5},
            {"type": "MaxPool2d", "kernel_size": 2, "call": "function"},
            {"type": "ReLU", "call": "function"},
            {"name": "conv2", "type": "Conv2d", "out_channels": 20, "kernel_size": 5},
            {"name": "conv2_drop", "type": "Dropout"},
            {"type": "MaxPool2d", "kernel_size": 2, "call": "function"},
            {"type": "ReLU", "call": "function"},
            {"type": "Flatten"},
            {"name": "fc1", "type": "Linear", "out_features": 50},
            {"type": "ReLU", "call": "function"},
            {"name": "fc2", "type": "Linear", "out_features": 10},
        ],
    }
    assert archspec.analyze(spec, convention="torchinfo").totals["macs"] == 975_200


def test_flopcounter_resnet18_forward_backward():
    # pytorch/pytorch test/test_flop_counter.py: torchvision resnet18, input 1x3x224x224 with
    # requires_grad, forward + backward = 10,884,440,064 FLOPs (3 x forward)
    text = (SPECS / "resnet18.yaml").read_text().replace("x: {shape: [B, 3, H, W]}", "x: {shape: [B, 3, H, W], requires_grad: true}")
    assert "requires_grad: true" in text
    report = archspec.analyze(text, convention="flopcounter", backward=True)
    assert report.totals["flops"] == 10_884_440_064


def test_deepspeed_lenet5_unit_test():
    # deepspeedai/DeepSpeed tests/unit/profiling/flops_profiler/test_flops_profiler.py (LeNet5 with
    # three convs, tanh, avg pools, softmax; batch 1024): 426,516,480 MACs, 866,076,672 FLOPs
    spec = {
        "name": "lenet5_deepspeed",
        "inputs": {"x": {"shape": [1024, 1, 32, 32]}},
        "layers": [
            {"type": "Conv2d", "out_channels": 6, "kernel_size": 5},
            {"type": "Tanh"},
            {"type": "AvgPool2d", "kernel_size": 2},
            {"type": "Conv2d", "out_channels": 16, "kernel_size": 5},
            {"type": "Tanh"},
            {"type": "AvgPool2d", "kernel_size": 2},
            {"type": "Conv2d", "out_channels": 120, "kernel_size": 5},
            {"type": "Tanh"},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 84},
            {"type": "Tanh"},
            {"type": "Linear", "out_features": 10},
            {"type": "Softmax", "dim": 1, "call": "function"},
        ],
    }
    totals = archspec.analyze(spec, convention="deepspeed").totals
    assert (totals["macs"], totals["flops"]) == (426_516_480, 866_076_672)


def test_thop_multihead_attention_note_figure():
    # ultralytics-thop 2.1+ count_multihead_attention: MultiheadAttention(64, 8), L = S = 10, batch 1:
    # 64 * (2*10*64 + 10*128) + 2*10*10*64 + softmax 8*10*(3*10 - 1) = 178,960
    spec = _single({"type": "MultiheadAttention", "embed_dim": 64, "num_heads": 8}, [10, 1, 64])
    assert archspec.analyze(spec, convention="thop").totals["macs"] == 178_960


def _fvcore(spec: dict) -> int:
    return archspec.analyze(spec, convention="fvcore").totals["macs"]


def test_fvcore_test_suite_convolutions():
    # facebookresearch/fvcore tests/test_flop_count.py test_conv: N*C_in*C_out*k^d*out^d/groups
    grouped = _single({"type": "Conv2d", "out_channels": 8, "kernel_size": 5, "padding": 2, "groups": 4}, [5, 16, 15, 15])
    assert _fvcore(grouped) == 5 * 16 * 8 * 25 * 225 // 4
    depthwise = _single({"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 8}, [5, 16, 15, 15])
    assert _fvcore(depthwise) == 5 * 16 * 8 * 9 * 225 // 8
    transposed = _single({"type": "ConvTranspose2d", "out_channels": 3, "kernel_size": 3, "padding": 1, "stride": 2}, [5, 10, 15, 15])
    assert _fvcore(transposed) == 5 * 10 * 3 * 9 * 225  # input positions, not output ones


def test_fvcore_test_suite_einsum_batchnorm_and_three_net():
    for equation, second, expected in (("nct,ncp->ntp", [1, 5, 12], 1 * 2 * 12 * 5), ("ntg,ncg->nct", [1, 5, 6], 1 * 2 * 6 * 5)):
        first = [1, 5, 2] if equation.startswith("nct") else [1, 2, 6]
        spec = {
            "name": "einsum",
            "inputs": {"x": {"shape": first}, "y": {"shape": second}},
            "layers": [{"type": "Einsum", "equation": equation, "from": ["x", "y"]}],
        }
        assert _fvcore(spec) == expected
    # BatchNorm1d(10, affine=False) in eval mode on 10x10: one flop per element
    assert _fvcore(_single({"type": "BatchNorm1d", "affine": False}, [10, 10])) == 100
    # ThreeNet at batch 4: conv 4,000 + linear1 60 + linear2 12 + adaptive_avg_pool2d 2,000
    three = {
        "name": "three_net",
        "inputs": {"x": {"shape": [4, 2, 10, 10]}},
        "layers": [
            {"type": "Conv2d", "out_channels": 5, "kernel_size": 1},
            {"type": "AdaptiveAvgPool2d", "output_size": 1},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 3},
            {"type": "Linear", "out_features": 1},
        ],
    }
    assert _fvcore(three) == 4_000 + 60 + 12 + 2_000


def test_fvcore_reads_numpys_printed_einsum_flop_with_four_significant_digits():
    # fvcore's einsum handle parses numpy.einsum_path's report line "Optimized FLOP count: %.3e"
    # and halves it: an einsum of 9,834,496 flops prints as 9.834e+06 -> 4,917,000 MACs.
    spec = {
        "name": "einsum",
        "inputs": {"x": {"shape": [1, 8, 49, 32]}, "y": {"shape": [1, 8, 49, 32]}},
        "layers": [{"type": "Einsum", "equation": "bhqd,bhkd->bhqk", "from": ["x", "y"]}],
    }
    exact = 2 * 8 * 49 * 49 * 32  # every label's size, twice: d is summed away
    printed = float(f"{exact:.3e}")
    assert exact == 1_229_312 and printed == 1_229_000.0
    assert _fvcore(spec) == int(printed) // 2


def test_thop_softmax_module_counts_exp_add_divide_per_row():
    # ultralytics-thop thop/vision/basic_hooks.py count_softmax: nfeatures = x.size()[m.dim], batch_size =
    # x.numel() // nfeatures, and thop/vision/calc_func.py calculate_softmax: batch_size * (nfeatures exps
    # + (nfeatures - 1) adds + nfeatures divides). nn.Softmax(dim=-1) on 2x3x10: 6 rows * 29 = 174;
    # nn.Softmax(dim=1): 20 rows of 3, 20 * 8 = 160.
    thop = {"convention": "thop"}
    assert archspec.analyze(_single({"type": "Softmax", "dim": -1}, [2, 3, 10]), **thop).totals["macs"] == 174
    assert archspec.analyze(_single({"type": "Softmax", "dim": 1}, [2, 3, 10]), **thop).totals["macs"] == 160


def test_fvcore_matmul_counts_the_first_operand_not_the_broadcast_output():
    # fvcore/nn/jit_handles.py matmul_flop_jit: flop = prod(input_shapes[0]) * input_shapes[-1][-1], the
    # first operand as given: (4, 6) @ (3, 6, 5) counts 4*6*5 = 120, not the 3*4*6*5 = 360 multiply-adds
    # the broadcast product runs.
    spec = {
        "name": "matmul",
        "inputs": {"x": {"shape": [4, 6]}, "y": {"shape": [3, 6, 5]}},
        "layers": [{"type": "Matmul", "from": ["x", "y"]}],
    }
    assert _fvcore(spec) == 120
    assert archspec.analyze(spec).totals["macs"] == 360


def test_calflops_grouped_transposed_conv_divides_by_groups_twice():
    # calflops/pytorch_ops.py _conv_trans_flops_compute: out_channels = weight.shape[1], which for a
    # transposed conv is already C_out / groups, then filters_per_channel = out_channels // groups;
    # macs = prod(kernel) * C_in * filters_per_channel * N * prod(input dims); the bias adds
    # out_channels * N * prod(output dims of a forward conv: (5 - 3) // 1 + 1 = 3).
    # ConvTranspose2d(8, 8, 3, groups=2) on 2x8x5x5: weight (8, 4, 3, 3), filters 4 // 2 = 2,
    # macs = 9 * 8 * 2 * 2 * 25 = 7,200; flops = 2 * 7,200 + 4 * 2 * 9 = 14,472.
    spec = _single({"type": "ConvTranspose2d", "out_channels": 8, "kernel_size": 3, "groups": 2}, [2, 8, 5, 5])
    totals = archspec.analyze(spec, convention="calflops").totals
    assert (totals["macs"], totals["flops"]) == (7_200, 14_472)


def test_flopcounter_attention_backward_follows_torchs_five_products():
    # torch/utils/flop_counter.py (2.13), sdpa_backward_flop_count: the scores recomputed and
    # dQ, dK are products over the query/key head dim d_q, dScores and dV over the value head
    # dim d_v: 2*b*h*s_q*s_k*(3*d_q + 2*d_v); the forward (sdpa_flop_count) 2*b*h*s_q*s_k*(d_q + d_v).
    # Projections as the linear layers' own formulas (mm: 2*M*K*N; backward: dW, and dX when the
    # input needs a gradient): q 64->4*16, k 64->2*16, v 64->2*24, out 4*24->64.
    b, s, e, h, kv, d_q, d_v = 2, 10, 64, 4, 2, 16, 24
    spec = {"params": {"B": b}, "inputs": {"x": {"shape": ["B", s, e], "requires_grad": True}},
            "layers": [{"type": "Attention", "num_heads": h, "num_kv_heads": kv, "head_dim": d_q,
                        "v_head_dim": d_v, "qkv_bias": False, "out_bias": False}]}
    projections = 2 * b * s * e * (h * d_q + kv * d_q + kv * d_v) + 2 * b * s * h * d_v * e
    scores = 2 * b * h * s * s * (d_q + d_v)
    forward = archspec.analyze(spec, convention="flopcounter").totals["flops"]
    assert forward == projections + scores
    both = archspec.analyze(spec, convention="flopcounter", backward=True).totals["flops"]
    # backward: every projection's weight and input gradient (2x), the five attention products
    assert both - forward == 2 * projections + 2 * b * h * s * s * (3 * d_q + 2 * d_v)
