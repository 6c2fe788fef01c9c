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
    "gpt2_seq128": ("gpt2_hf_eager.yaml", {"L": 128}), "lstm_2layer": "lstm_2layer.yaml",
}


def saved_on_cpu(spec, **bindings):
    return memory(archspec.analyze(spec, **bindings), MemoryOptions(device="cpu")).totals["saved_activations"]


@pytest.mark.parametrize("model", [m for m in REFERENCE["models"] if m["model"] in SPEC_OF], ids=lambda m: m["model"])
@pytest.mark.parametrize("batch", [1, 2])
def test_saved_activations_equal_pytorch(model, batch):
    """Bytes of distinct storages packed by torch.autograd.graph.saved_tensors_hooks in one
    train-mode forward pass on CPU, parameters excluded (tests/reference/torch_measured.json)."""
    measured = model["saved_for_backward_bytes" if batch == 1 else "saved_for_backward_bytes_b2"]
    name, bindings = SPEC_OF[model["model"]] if isinstance(SPEC_OF[model["model"]], tuple) else (SPEC_OF[model["model"]], {})
    ours = saved_on_cpu(SPECS / name, B=batch, **bindings)
    # Every case is exact: the issue asked for 2%, and a tolerance would hide a bug of up to
    # 3.4 MB on gpt2_seq128 (documented gaps live in test_further_saved_measurements).
    assert ours == measured


FURTHER = json.loads((Path(__file__).parent / "reference" / "saved_measured.json").read_text())
ENCODER = (SPECS / "transformer_encoder_layer.yaml").read_text()


def one_layer(layer, **inputs):
    sources = {"from": list(inputs)} if len(inputs) > 1 else {}
    return {"params": {"B": 1}, "inputs": {k: {"shape": v} for k, v in inputs.items()}, "layers": [{**layer, **sources}]}


# The builders of tests/reference/measure_saved.py, as specs.
FURTHER_SPECS = {
    "transformer_encoder_layer_dropout": (
        ENCODER.replace("p: 0.0", "p: 0.1").replace("batch_first: true}", "batch_first: true, dropout: 0.1}"), {}
    ),
    "mha_need_weights_dropout": (
        one_layer({"type": "MultiheadAttention", "embed_dim": 256, "num_heads": 4, "dropout": 0.1, "batch_first": True, "need_weights": True}, x=["B", 64, 256]),
        {},
    ),
    "mha_cross_dropout": (
        one_layer({"type": "MultiheadAttention", "embed_dim": 256, "num_heads": 4, "dropout": 0.1, "batch_first": True}, x=["B", 32, 256], m=["B", 48, 256], v=["B", 48, 256]),
        {},
    ),
    "mha_cross_need_weights_dropout": (
        one_layer({"type": "MultiheadAttention", "embed_dim": 256, "num_heads": 4, "dropout": 0.1, "batch_first": True, "need_weights": True}, x=["B", 32, 256], m=["B", 48, 256], v=["B", 48, 256]),
        {},
    ),
    "sdpa_attention_dropout_causal": (one_layer({"type": "Attention", "num_heads": 4, "causal": True, "dropout": 0.1}, x=["B", 64, 256]), {}),
    "sdpa_attention_causal": (one_layer({"type": "Attention", "num_heads": 4, "causal": True}, x=["B", 64, 256]), {}),
    "gpt2_seq64": (SPECS / "gpt2_hf_eager.yaml", {"L": 64}),
    **{name: (SPECS / f"{name}.yaml", {}) for name in (
        "mobilenet_v2", "mobilenet_v3_large", "resnet50", "resnext50_32x4d", "densenet121", "googlenet",
        "shufflenet_v2_x1_0", "efficientnet_b0", "convnext_tiny", "vgg16_bn", "vit_b_16",
    )},
}
# torchvision's StochasticDepth (row mode) keeps one float per sample in every residual
# block whose drop probability is above 0 (9 in EfficientNet-B0, 17 in ConvNeXt-Tiny); the
# zoo specs leave it out, as it is the identity at inference.
STOCHASTIC_DEPTH_BLOCKS = {"efficientnet_b0": 9, "convnext_tiny": 17}
# At batch 1, torch.matmul needs no copy to fold (1, H, L, d) into (H, L, d): the V that
# the math path saves is then a view of the packed QKV projection and keeps the Q and K
# thirds alive too, 2 x L x D floats more than with a batch (where the fold copies V).
BATCH_ONE_VIEW = {("sdpa_attention_dropout_causal", 1): 2 * 64 * 256 * 4}


@pytest.mark.parametrize("model", FURTHER["models"], ids=lambda m: m["model"])
@pytest.mark.parametrize("batch", [1, 2])
def test_saved_activations_of_further_measured_models(model, batch):
    """Attention paths (fused, eager, SDPA's math fallback under dropout on CPU, packed and
    separate projections), GPT-2 at another length and eleven more torchvision models
    (tests/reference/saved_measured.json)."""
    spec, bindings = FURTHER_SPECS[model["model"]]
    measured = model[f"saved_for_backward_bytes_b{batch}"]
    unmodelled = BATCH_ONE_VIEW.get((model["model"], batch), 0) + 4 * batch * STOCHASTIC_DEPTH_BLOCKS.get(model["model"], 0)
    assert saved_on_cpu(spec, B=batch, **bindings) + unmodelled == measured


@pytest.mark.parametrize("config", FURTHER["recurrent"], ids=lambda r: "{type}-{num_layers}x{hidden_size}-bi{bidirectional:d}-bf{batch_first:d}-T{steps}-B{batch}".format(**r))
def test_saved_activations_of_recurrent_layers_on_cpu(config):
    """RNN and GRU run ATen's cell loop on CPU, LSTM oneDNN's fused kernel (its workspace laid
    out in 4096-byte pages): a grid over layers, directions, layouts and sizes."""
    steps, batch, features = config["steps"], config["batch"], config["input_size"]
    shape = [batch, steps, features] if config["batch_first"] else [steps, batch, features]
    layer = {k: config[k] for k in ("type", "hidden_size", "num_layers", "bidirectional", "batch_first")}
    assert saved_on_cpu({"inputs": {"x": {"shape": shape}}, "layers": [layer]}) == config["saved_for_backward_bytes"]


def test_lstm_cpu_workspace_is_a_formula_in_the_length():
    report = archspec.analyze(SPECS / "lstm_2layer.yaml", L=None)
    saved = memory(report, MemoryOptions(device="cpu")).totals["saved_activations"]
    assert saved.free_symbols == {symbol("L")}
    measured = next(m for m in REFERENCE["models"] if m["model"] == "lstm_2layer")["saved_for_backward_bytes"]
    assert saved.subs(symbol("L"), 50) == measured


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


@pytest.mark.parametrize("spec, heights", [
    ("googlenet.yaml", (139, 224, 299, 331)),
    ("densenet121.yaml", (139, 224, 299, 331)),
    ("inception_v3.yaml", (299, 331, 400, 512)),  # its auxiliary head needs H >= 299
])
def test_inference_peak_with_a_free_resolution_is_the_bound_peak_at_each_resolution(spec, heights):
    """A peak over hundreds of layers whose sizes nest floors and ceilings (strides, ceil_mode
    pooling) in H: sympy's Max over every layer's sum took 30 s to minutes here; the formula
    evaluated at H is the analysis at H."""
    peak = memory(archspec.analyze(SPECS / spec, H=None)).totals["inference_peak"]
    for h in heights:
        bound = memory(archspec.analyze(SPECS / spec, H=h)).totals["inference_peak"]
        assert int(peak.subs(symbol("H"), h)) == bound


def test_per_block_checkpointing_with_a_free_resolution_is_the_bound_figure_at_each_resolution():
    """The largest block's saved tensors, a Max over DenseNet-121's blocks in H (3 minutes through
    sympy's pairwise Max before largest_sum)."""
    options = MemoryOptions(checkpointing="per-block")
    saved = memory(archspec.analyze(SPECS / "densenet121.yaml", H=None), options).totals["saved_activations"]
    for h in (139, 299):
        bound = memory(archspec.analyze(SPECS / "densenet121.yaml", H=h), options).totals["saved_activations"]
        assert int(saved.subs(symbol("H"), h)) == bound


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
    """MultiheadAttention's need_weights path keeps H*L*S probabilities and a scaled copy of Q
    (L*E) where the fused kernel keeps H*L float32 values, per sample."""
    spec = (SPECS / "transformer_encoder_layer.yaml").read_text()
    eager = spec.replace("batch_first: true}", "batch_first: true, need_weights: true}")
    assert eager != spec
    fused_bytes = memory(archspec.analyze(spec, B=2), MemoryOptions()).totals["saved_activations"]
    eager_bytes = memory(archspec.analyze(eager, B=2), MemoryOptions()).totals["saved_activations"]
    heads, length, width = 8, 128, 512
    assert eager_bytes - fused_bytes == 2 * (heads * length * length + length * width - heads * length) * 4


def test_fused_attention_with_dropout_keeps_the_math_path_on_cpu_only():
    """On CUDA the fused kernels take a dropout (a log-sum-exp per row); on CPU SDPA falls back
    to the math path: scaled copies of Q and K, probabilities, their mask and the dropped copy."""
    spec = one_layer({"type": "Attention", "num_heads": 4, "dropout": 0.1}, x=[2, 16, 32])
    report = archspec.analyze(spec)
    cuda = memory(report, MemoryOptions(device="cuda")).totals["saved_activations"]
    cpu = memory(report, MemoryOptions(device="cpu")).totals["saved_activations"]
    no_dropout = memory(archspec.analyze(one_layer({"type": "Attention", "num_heads": 4}, x=[2, 16, 32]))).totals["saved_activations"]
    assert cuda == no_dropout
    rows, scores = 2 * 4 * 16, 2 * 4 * 16 * 16
    # probabilities, their float mask and the dropped copy replace the log-sum-exp; Q, K and V
    # (or their scaled copies) are three projection-sized tensors either way
    assert cpu - cuda == 3 * 4 * scores - 4 * rows
