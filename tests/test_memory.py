"""Memory: training state in closed form, saved activations against PyTorch's saved-tensor
hooks, liveness, the KV cache."""

import json
from pathlib import Path

import pytest
import sympy

import archspec
from archspec.memory import BYTES, OPTIMIZER_STATES, MemoryOptions, memory
from archspec.symbolic import symbol
from tests.conftest import SPECS

REFERENCE = json.loads((Path(__file__).parent / "reference" / "torch_measured.json").read_text())
SPEC_OF = {
    "seed_mnist_cnn": "seed_mnist.yaml", "seed_conv3x3_64_128": "seed_conv3x3.yaml", "lenet5": "lenet5.yaml",
    "alexnet": "alexnet.yaml", "vgg16": "vgg16.yaml", "resnet18": "resnet18.yaml", "squeezenet1_1": "squeezenet1_1.yaml",
    "dcgan_generator": "dcgan_generator.yaml", "transformer_encoder_layer": "transformer_encoder_layer.yaml",
}


@pytest.mark.parametrize("model", [m for m in REFERENCE["models"] if m["model"] in SPEC_OF], ids=lambda m: m["model"])
@pytest.mark.parametrize("batch", [1, 2])
def test_saved_activations_within_2_percent_of_pytorch(model, batch):
    """Bytes of distinct storages packed by torch.autograd.graph.saved_tensors_hooks in one
    train-mode forward pass on CPU, parameters excluded (tests/reference/torch_measured.json)."""
    measured = model["saved_for_backward_bytes" if batch == 1 else "saved_for_backward_bytes_b2"]
    report = archspec.analyze(SPECS / SPEC_OF[model["model"]], B=batch)
    ours = memory(report, MemoryOptions(device="cpu")).totals["saved_activations"]
    assert abs(ours - measured) <= 0.02 * measured, (ours, measured)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZER_STATES))
@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16", "fp8", "int8", "int4"])
def test_training_state_closed_forms(optimizer, dtype):
    report = archspec.analyze(SPECS / "lenet5.yaml")
    params = report.totals["params"]  # 61,706
    totals = memory(report, MemoryOptions(dtype=dtype, optimizer=optimizer)).totals
    size = BYTES[dtype]
    weight_bytes = -(-params // 2) if dtype == "int4" else params * size
    assert totals["weights"] == weight_bytes
    assert totals["gradients"] == weight_bytes
    assert totals["optimizer"] == OPTIMIZER_STATES[optimizer] * params * 4  # fp32 state
    assert totals["master_weights"] == (params * 4 if size < 4 else 0)  # fp32 copies under mixed precision
    assert totals["training_total"] == sum(totals[k] for k in ("weights", "buffers", "gradients", "optimizer", "master_weights", "saved_activations"))


def chain(layers, shape=(4, 32)):
    return archspec.analyze({"inputs": {"x": {"shape": list(shape)}}, "layers": layers})


def test_saved_activations_of_a_linear_relu_stack_by_hand():
    report = chain([{"type": "Linear", "out_features": 64}, "ReLU", {"type": "Linear", "out_features": 16}, "ReLU"])
    # linear1 saves x (4*32), relu1 its output (4*64), which linear2 saves too; relu2 its output (4*16)
    assert memory(report).totals["saved_activations"] == 4 * (4 * 32 + 4 * 64 + 4 * 16)


def test_saved_activations_of_a_residual_block_by_hand():
    report = archspec.analyze(
        {
            "inputs": {"x": {"shape": [1, 8, 5, 5]}},
            "layers": [
                {"name": "conv", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False},
                {"name": "bn", "type": "BatchNorm2d"},
                {"name": "relu", "type": "ReLU"},
                {"name": "add", "type": "Add", "from": ["relu", "x"]},
            ],
        }
    )
    # conv saves x; bn its input (conv out) and 4 per-channel vectors; relu its output; add nothing
    assert memory(report).totals["saved_activations"] == 4 * (200 + 200 + 4 * 8 + 200)


def test_inference_peak_of_a_chain_is_the_largest_adjacent_pair():
    widths = [32, 64, 16, 128, 8]
    report = chain([{"type": "Linear", "out_features": w} for w in widths[1:]])
    pairs = [4 * 4 * (a + b) for a, b in zip(widths, widths[1:])]
    assert memory(report).totals["inference_peak"] == max(pairs)


def test_inference_peak_of_a_residual_block_holds_the_branch():
    report = archspec.analyze(
        {
            "inputs": {"x": {"shape": [1, 100]}},
            "layers": [
                {"name": "a", "type": "Linear", "out_features": 10},
                {"name": "b", "type": "Linear", "out_features": 100},
                {"name": "sum", "type": "Add", "from": ["b", "x"]},
            ],
        }
    )
    # x stays live until the Add reads it: while the Add runs, x, b and the sum are all live
    # (300 elements); without the held branch, no step would hold more than 210 (x, a, b at b)
    assert memory(report).totals["inference_peak"] == 4 * (100 + 100 + 100)
    assert memory(chain([{"type": "Linear", "out_features": 10}, {"type": "Linear", "out_features": 100}], (1, 100))).totals["inference_peak"] == 4 * 110


@pytest.mark.parametrize("spec", ["resnet18.yaml", "mobilenet_v2.yaml", "densenet121.yaml"])
def test_activation_memory_is_linear_in_the_batch_for_cnns(spec):
    totals = memory(archspec.analyze(SPECS / spec, B=None)).totals
    one = memory(archspec.analyze(SPECS / spec, B=1)).totals
    b = symbol("B")
    for key in ("inference_peak",):
        assert sympy.expand(totals[key] - b * one[key]) == 0
    # saved activations: linear in B plus BatchNorm's running statistics, which do not grow with B
    saved = sympy.Poly(totals["saved_activations"], b)
    assert saved.degree() == 1


def test_kv_cache_is_linear_in_the_length():
    report = archspec.analyze(SPECS / "llama3_8b.yaml", B=1, L=None)
    cache = memory(report, MemoryOptions(training=False, dtype="bf16")).totals["kv_cache"]
    # 2 (K and V) x 32 layers x 8 kv heads x 128 head dims x 2 bytes per token
    assert sympy.expand(cache - 2 * 32 * 8 * 128 * 2 * symbol("L")) == 0


def test_memory_command_json_has_the_documented_keys():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "archspec", "memory", str(SPECS / "resnet18.yaml"), "--set", "B=8", "--dtype", "bf16", "--optimizer", "adamw", "--format", "json"],
        capture_output=True, text=True,
    )
    data = json.loads(result.stdout)
    assert {"weights", "buffers", "gradients", "optimizer", "master_weights", "saved_activations", "inference_peak", "kv_cache", "training_total", "inference_total"} <= set(data["memory"])
    assert data["memory"]["master_weights"] == 4 * 11_689_512
    assert len(data["layers"]) == len(archspec.analyze(SPECS / "resnet18.yaml").layers)


def test_per_block_checkpointing_keeps_block_inputs_and_one_block():
    report = archspec.analyze(
        {
            "inputs": {"x": {"shape": [2, 16]}},
            "blocks": {"MLP": {"layers": [{"type": "Linear", "out_features": 64}, "ReLU", {"type": "Linear", "out_features": 16}]}},
            "layers": [{"name": "h", "type": "MLP", "repeat": 4}],
        }
    )
    # one application saves its input (2x16), the ReLU output (2x64, which the second Linear saves too)
    block = 4 * (2 * 16 + 2 * 64)
    assert memory(report).totals["saved_activations"] == 4 * block
    # checkpointed: the 4 block inputs (2x16 each) and, while recomputing, one block's tensors
    assert memory(report, MemoryOptions(checkpointing="per-block")).totals["saved_activations"] == 4 * 4 * (2 * 16) + block


def test_eager_attention_keeps_the_probabilities_fused_a_log_sum_exp():
    """The two kernels differ by exactly H*L*S activations against H*L float32 values per sample."""
    spec = (SPECS / "transformer_encoder_layer.yaml").read_text()
    eager = spec.replace("batch_first: true}", "batch_first: true, need_weights: true}")
    assert eager != spec
    fused_bytes = memory(archspec.analyze(spec, B=2), MemoryOptions()).totals["saved_activations"]
    eager_bytes = memory(archspec.analyze(eager, B=2), MemoryOptions()).totals["saved_activations"]
    heads, length = 8, 128
    assert eager_bytes - fused_bytes == 2 * heads * length * length * 4 - 2 * heads * length * 4
