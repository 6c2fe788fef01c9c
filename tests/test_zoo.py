"""The model zoo against published and measured figures: a table of (spec, metric, expected, source)."""

import json
from pathlib import Path

import pytest

import archspec
from tests.conftest import SPECS

TORCHVISION = "torchvision weights meta (num_params, _ops in GFLOPS), torchvision/models/{}.py"
MEASURED = "PyTorch measurement, tests/reference/torch_measured.json"
# Models torchvision builds from the same code with other arguments, measured with
# torchvision 0.29.1 / torch 2.14.1: sum of parameters, and conv/linear MACs from forward hooks
# (output numel x in_channels/groups x kernel taps; transposed conv: input numel x out/groups x taps).
BUILT = "measured: torchvision.models.{} (torchvision 0.29.1), forward hooks on conv/linear"
# The original U-Net, built in PyTorch from the paper (Fig. 1): unpadded convs, 2x2 up-convs,
# cropped skips; 572x572 input -> 388x388 output. Same hooks.
UNET = "measured: U-Net built from Ronneberger et al. 2015, Fig. 1 (torch 2.14.1)"

EXACT = [
    # spec, metric, expected, source
    ("seed_mnist.yaml", "params", 370_338, MEASURED),
    ("seed_mnist.yaml", "macs", 529_940, "worked example: 30,420 + 129,600 + 368,640 + 1,280"),
    ("seed_conv3x3.yaml", "macs", 924_844_032, "worked example: 112*112*128*64*9"),
    ("seed_conv3x3.yaml", "params", 73_856, MEASURED),
    ("lenet5.yaml", "params", 61_706, MEASURED),
    # BatchNorm2d running_mean + running_var + num_batches_tracked over VGG-16-BN's 13 norms.
    ("vgg16_bn.yaml", "buffers", 2 * (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512) + 13, "torch.nn.BatchNorm2d buffers"),
]

# torchvision publishes GFLOPS rounded; its figures count conv and linear multiply-accumulates.
# (spec, params bound with --set, num_params, GFLOPS, source). Variants come from the same spec
# with other params: depth, width, cardinality, resolution.
PUBLISHED = [
    ("alexnet.yaml", {}, 61_100_840, "0.714", TORCHVISION.format("alexnet")),
    ("vgg16.yaml", {}, 138_357_544, "15.47", TORCHVISION.format("vgg")),
    ("vgg16_bn.yaml", {}, 138_365_992, "15.47", TORCHVISION.format("vgg")),
    ("resnet18.yaml", {}, 11_689_512, "1.814", TORCHVISION.format("resnet")),
    ("resnet18.yaml", {"depth1": 3, "depth2": 4, "depth3": 6, "depth4": 3}, 21_797_672, "3.664", "resnet34, " + TORCHVISION.format("resnet")),
    ("resnet50.yaml", {}, 25_557_032, "4.089", TORCHVISION.format("resnet")),
    ("resnet50.yaml", {"depth3": 23}, 44_549_160, "7.801", "resnet101, " + TORCHVISION.format("resnet")),
    ("resnet50.yaml", {"depth2": 8, "depth3": 36}, 60_192_808, "11.514", "resnet152, " + TORCHVISION.format("resnet")),
    ("resnext50_32x4d.yaml", {}, 25_028_904, "4.23", TORCHVISION.format("resnet")),
    ("resnext50_32x4d.yaml", {"depth3": 23, "width_per_group": 8}, 88_791_336, "16.414", "resnext101_32x8d, " + TORCHVISION.format("resnet")),
    ("wide_resnet50_2.yaml", {}, 68_883_240, "11.398", TORCHVISION.format("resnet")),
    ("wide_resnet50_2.yaml", {"depth3": 23}, 126_886_696, "22.753", "wide_resnet101_2, " + TORCHVISION.format("resnet")),
    ("mobilenet_v2.yaml", {}, 3_504_872, "0.301", TORCHVISION.format("mobilenetv2")),
    ("mobilenet_v3_large.yaml", {}, 5_483_032, "0.217", TORCHVISION.format("mobilenetv3")),
    ("efficientnet_b0.yaml", {}, 5_288_548, "0.386", TORCHVISION.format("efficientnet")),
    ("efficientnet_b0.yaml", {"depth_mult": "1.1", "H": 240, "W": 240}, 7_794_184, "0.687", "efficientnet_b1, " + TORCHVISION.format("efficientnet")),
    ("efficientnet_b0.yaml", {"width_mult": "1.1", "depth_mult": "1.2", "H": 288, "W": 288}, 9_109_994, "1.088", "efficientnet_b2, " + TORCHVISION.format("efficientnet")),
    ("efficientnet_b0.yaml", {"width_mult": "1.2", "depth_mult": "1.4", "H": 300, "W": 300}, 12_233_232, "1.827", "efficientnet_b3, " + TORCHVISION.format("efficientnet")),
    ("densenet121.yaml", {}, 7_978_856, "2.834", TORCHVISION.format("densenet")),
    ("densenet121.yaml", {"n3": 32, "n4": 32}, 14_149_480, "3.36", "densenet169, " + TORCHVISION.format("densenet")),
    ("densenet121.yaml", {"n3": 48, "n4": 32}, 20_013_928, "4.291", "densenet201, " + TORCHVISION.format("densenet")),
    ("squeezenet1_1.yaml", {}, 1_235_496, "0.349", TORCHVISION.format("squeezenet")),
    ("googlenet.yaml", {}, 6_624_904, "1.498", TORCHVISION.format("googlenet")),
    ("shufflenet_v2_x1_0.yaml", {}, 2_278_604, "0.145", TORCHVISION.format("shufflenetv2")),
    ("shufflenet_v2_x1_0.yaml", {"c1": 48, "c2": 96, "c3": 192}, 1_366_792, "0.04", "shufflenet_v2_x0_5, " + TORCHVISION.format("shufflenetv2")),
    ("shufflenet_v2_x1_0.yaml", {"c1": 176, "c2": 352, "c3": 704}, 3_503_624, "0.296", "shufflenet_v2_x1_5, " + TORCHVISION.format("shufflenetv2")),
    ("shufflenet_v2_x1_0.yaml", {"c1": 244, "c2": 488, "c3": 976, "c_last": 2048}, 7_393_996, "0.583", "shufflenet_v2_x2_0, " + TORCHVISION.format("shufflenetv2")),
    ("convnext_tiny.yaml", {}, 28_589_128, "4.456", TORCHVISION.format("convnext")),
    ("convnext_tiny.yaml", {"depth3": 27}, 50_223_688, "8.684", "convnext_small, " + TORCHVISION.format("convnext")),
    ("convnext_tiny.yaml", {"depth3": 27, "dim": 128}, 88_591_464, "15.355", "convnext_base, " + TORCHVISION.format("convnext")),
    ("vit_b_16.yaml", {}, 86_567_656, "17.56", TORCHVISION.format("vision_transformer")),
]

# Exact MACs where a measurement exists: (spec, bindings, params, macs, source).
MEASURED_MACS = [
    ("mobilenet_v2.yaml", {"width_mult": "0.5"}, 1_968_680, 97_131_840, BUILT.format("mobilenet_v2(width_mult=0.5)")),
    ("mobilenet_v2.yaml", {"width_mult": "0.75"}, 2_636_424, 209_069_792, BUILT.format("mobilenet_v2(width_mult=0.75)")),
    ("mobilenet_v2.yaml", {"width_mult": "1.4"}, 6_108_776, 582_195_824, BUILT.format("mobilenet_v2(width_mult=1.4)")),
    ("mobilenet_v3_large.yaml", {"width_mult": "0.5"}, 1_734_576, 64_962_192, BUILT.format("mobilenet_v3_large(width_mult=0.5)")),
    ("mobilenet_v3_large.yaml", {"width_mult": "0.75"}, 3_377_576, 140_033_816, BUILT.format("mobilenet_v3_large(width_mult=0.75)")),
    ("mobilenet_v3_large.yaml", {"width_mult": "1.4"}, 9_989_328, 414_926_736, BUILT.format("mobilenet_v3_large(width_mult=1.4)")),
    ("efficientnet_b0.yaml", {}, 5_288_548, 385_814_752, BUILT.format("efficientnet_b0()")),
    ("efficientnet_b0.yaml", {"H": 256, "W": 256}, 5_288_548, 503_337_472, BUILT.format("efficientnet_b0() at 256x256")),
    ("unet.yaml", {}, 31_030_658, 150_428_424_448, UNET),
]


# Transformers and recurrent nets: (spec, bindings, params, source).
HF = "HuggingFace transformers model with the published config ({}), sum of parameters"
SEQUENCE_PARAMS = [
    ("gpt2.yaml", {}, 124_439_808, HF.format("GPT2Model, gpt2") + "; also tests/reference/torch_measured.json"),
    ("gpt2.yaml", {"lm_head": 1}, 124_439_808, HF.format("GPT2LMHeadModel: the head is tied to wte")),
    ("gpt2_hf_eager.yaml", {}, 124_439_808, HF.format("GPT2Model, gpt2") + "; also tests/reference/torch_measured.json"),
    ("bert_base.yaml", {}, 109_482_240, HF.format("BertModel with pooler, bert-base-uncased")),
    ("llama2_7b.yaml", {}, 6_738_415_616, HF.format("LlamaForCausalLM, meta-llama/Llama-2-7b-hf")),
    ("llama3_8b.yaml", {}, 8_030_261_248, HF.format("LlamaForCausalLM, meta-llama/Meta-Llama-3-8B")),
    ("lstm_2layer.yaml", {}, 921_600, "nn.LSTM(128, 256, num_layers=2), tests/reference/torch_measured.json"),
]


@pytest.mark.parametrize("spec, bindings, params, source", SEQUENCE_PARAMS)
def test_sequence_models_match_their_published_parameter_counts(spec, bindings, params, source):
    assert archspec.analyze(SPECS / spec, **bindings).totals["params"] == params, source


def decoder_params(vocab, d, layers, heads, kv_heads, d_ff, gated, biases, positions, tied):
    """A decoder's parameter count in closed form, written independently of the specs."""
    head_dim = d // heads
    attention = d * d * 2 + d * kv_heads * head_dim * 2 + ((3 * d + d) if biases else 0)
    mlp = d * d_ff * (3 if gated else 2) + ((d_ff + d) if biases else 0)
    norms = 2 * d * (2 if biases else 1)  # LayerNorm has weight and bias; RMSNorm a weight
    final_norm = d * (2 if biases else 1)
    embeddings = vocab * d + positions * d + (0 if tied else vocab * d)
    return embeddings + layers * (attention + mlp + norms) + final_norm


DECODERS = [
    # spec, closed-form args (vocab, d, layers, heads, kv heads, d_ff, gated, biases, positions, tied),
    # whether the spec has an LM head, source
    ("gpt2.yaml", (50257, 768, 12, 12, 12, 3072, False, True, 1024, True), False, "GPT-2 config"),
    ("llama2_7b.yaml", (32000, 4096, 32, 32, 32, 11008, True, False, 0, False), True, "Llama-2-7b config"),
    ("llama3_8b.yaml", (128256, 4096, 32, 32, 8, 14336, True, False, 0, False), True, "Meta-Llama-3-8B config"),
    ("llama3_405b.yaml", (128256, 16384, 126, 128, 8, 53248, True, False, 0, False), True, "Llama-3.1-405B config"),
    ("gpt3_175b.yaml", (51200, 12288, 96, 96, 96, 49152, False, True, 2048, True), True, "GPT-3 paper, Table 2.1 (Megatron's padded vocab)"),
]


@pytest.mark.parametrize("spec, config, has_head, source", DECODERS)
def test_decoders_match_the_closed_form_and_cost_about_n_macs_per_token(spec, config, has_head, source):
    import sympy

    from archspec.symbolic import symbol

    vocab, d, layers, heads, kv_heads, d_ff, gated, _, positions, tied = config
    report = archspec.analyze(SPECS / spec, L=None)
    params = report.totals["params"]
    assert params == decoder_params(*config), source
    # MACs of one sequence = a*L + b*L^2: a counts every matmul weight once per token,
    # b the attention's two L x L matmuls (the whole matrix, as dense kernels compute it).
    b, a, c = sympy.Poly(report.totals["macs"], symbol("L")).all_coeffs()
    assert (b, c) == (2 * layers * d, 0)
    head_weight = vocab * d if has_head else 0
    block_weights = layers * (2 * d * d + 2 * d * kv_heads * (d // heads) + d * d_ff * (3 if gated else 2))
    assert a == block_weights + head_weight
    # ... which is N, the non-embedding params, up to biases and norms (well under 1%)
    non_embedding = params - vocab * d - positions * d - (0 if tied else head_weight)
    assert abs((a - head_weight) - non_embedding) / non_embedding < 0.01


@pytest.mark.parametrize("spec", ["llama3_405b.yaml", "gpt3_175b.yaml"])
def test_the_largest_models_analyze_with_free_batch_and_length(spec):
    report = archspec.analyze(SPECS / spec, B=None, L=None)
    assert {str(s) for s in report.totals["macs"].free_symbols} == {"B", "L"}


@pytest.mark.parametrize("spec, metric, expected, source", EXACT)
def test_exact_figures(spec, metric, expected, source):
    assert archspec.analyze(SPECS / spec).totals[metric] == expected, source


def _label(case):
    if isinstance(case, dict):
        return ",".join(f"{k}={v}" for k, v in case.items()) or "-"
    return case if isinstance(case, str) and case.endswith(".yaml") else "-"


@pytest.mark.parametrize("spec, bindings, params, published, source", PUBLISHED, ids=_label)
def test_params_and_macs_match_torchvision_to_the_digits_published(spec, bindings, params, published, source):
    totals = archspec.analyze(SPECS / spec, **bindings).totals
    assert totals["params"] == params, source
    decimals = len(published.split(".")[1])
    assert f"{totals['macs'] / 1e9:.{decimals}f}" == published, source


@pytest.mark.parametrize("spec, bindings, params, macs, source", MEASURED_MACS, ids=_label)
def test_params_and_macs_match_the_measurement_exactly(spec, bindings, params, macs, source):
    totals = archspec.analyze(SPECS / spec, **bindings).totals
    assert (totals["params"], totals["macs"]) == (params, macs), source


def test_unet_maps_a_572_tile_to_388_as_in_the_paper():
    report = archspec.analyze(SPECS / "unet.yaml")
    assert report.outputs == {"head": (1, 2, 388, 388)}


def test_seed_mnist_per_layer_macs_and_flops():
    report = archspec.analyze(SPECS / "seed_mnist.yaml")
    rows = [row for row in report.layers if row.macs]
    assert [row.macs for row in rows] == [30_420, 129_600, 368_640, 1_280]
    # FLOPs without the bias additions: twice the MACs.
    bias_adds = [5 * 26 * 26, 5 * 24 * 24, 128, 10]
    assert [row.flops - b for row, b in zip(rows, bias_adds)] == [60_840, 259_200, 737_280, 2_560]


def test_vgg16_bn_costs_as_vgg16_in_macs():
    plain = archspec.analyze(SPECS / "vgg16.yaml").totals
    with_bn = archspec.analyze(SPECS / "vgg16_bn.yaml").totals
    assert with_bn["macs"] == plain["macs"]
    assert with_bn["flops"] > plain["flops"]


REFERENCE = json.loads((Path(__file__).parent / "reference" / "torch_measured.json").read_text())
REFERENCE_SPECS = {
    "seed_mnist_cnn": "seed_mnist.yaml",
    "seed_conv3x3_64_128": "seed_conv3x3.yaml",
    "lenet5": "lenet5.yaml",
    "alexnet": "alexnet.yaml",
    "vgg16": "vgg16.yaml",
    "resnet18": "resnet18.yaml",
    "squeezenet1_1": "squeezenet1_1.yaml",
    "dcgan_generator": "dcgan_generator.yaml",
    "transformer_encoder_layer": "transformer_encoder_layer.yaml",
    "lstm_2layer": "lstm_2layer.yaml",
}
# Ops that torchvision calls as functions (x + identity, torch.cat, torch.flatten, the
# encoder layer's F.relu) have no module, so the measurement has no row for them.
FUNCTIONAL = {"Add", "Concat", "Flatten", "ReLU"}


@pytest.mark.parametrize("model", [m for m in REFERENCE["models"] if m["model"] in REFERENCE_SPECS], ids=lambda m: m["model"])
def test_every_layer_matches_the_pytorch_measurement(model):
    """Output shapes and params per leaf module; conv/linear MACs equal fvcore's per-module count
    (fvcore counts one fused multiply-add as one flop and ignores bias)."""
    report = archspec.analyze(SPECS / REFERENCE_SPECS[model["model"]])
    assert report.totals["params"] == model["params"]
    assert report.totals["buffers"] == model["buffers"]
    assert list(report.outputs.values())[0] == tuple(model["output_shape"])
    measured_types = [layer["type"] for layer in model["per_layer"]]
    rows = [row for row in report.layers if row.type not in FUNCTIONAL or row.type in measured_types]
    assert [row.type for row in rows] == measured_types
    for row, layer in zip(rows, model["per_layer"]):
        shape = layer["output_shape"]
        shape = shape[0] if isinstance(shape[0], list) else shape  # (output, attention weights)
        assert row.output_shape == tuple(shape), layer["name"]
        if layer.get("leaf", True):  # a non-leaf module's own params leave out its children's
            assert row.params == layer["params"], layer["name"]
        if row.type in ("Conv2d", "ConvTranspose2d", "Linear"):
            assert row.macs == layer["fvcore_flops"], layer["name"]


def test_gpt2_hf_eager_matches_the_transformers_modules():
    """HF's GPT2Model at L=128 module by module. Its attention is three modules (c_attn,
    c_proj, the attention math between them), archspec's one Attention row; its
    NewGELUActivation is one module, here a block of eight ops."""
    model = next(m for m in REFERENCE["models"] if m["model"] == "gpt2_seq128")
    report = archspec.analyze(SPECS / "gpt2_hf_eager.yaml", L=128)
    assert (report.totals["params"], report.totals["buffers"]) == (model["params"], model["buffers"])
    assert list(report.outputs.values())[0] == tuple(model["output_shape"])
    rows = {row.name: row for row in report.layers}
    attention_params: dict[str, int] = {}
    for layer in model["per_layer"]:
        name = layer["name"]
        if ".attn.c_" in name:  # c_attn and c_proj make up archspec's Attention row
            block = name.split(".attn.")[0]
            attention_params[block] = attention_params.get(block, 0) + layer["params"]
            continue
        ours = name.replace(".attn.", ".").replace(".mlp.", ".")
        row = rows[ours + ".gelu" if ours.endswith(".act") else ours]
        assert row.output_shape == tuple(layer["output_shape"]), name
        assert row.params == layer["params"], name
        if row.type == "Linear":
            assert row.macs == layer["fvcore_flops"], name
    assert attention_params == {f"h.{i}": rows[f"h.{i}.attn"].params for i in range(12)}


@pytest.mark.parametrize("length", [1, 128, 1024])
def test_gpt2_written_op_by_op_costs_what_gpt2_costs(length):
    """The same network: the eight-op GELU and the eager, dropout-bearing attention change
    what autograd keeps, not the MACs or FLOPs (tanh GELU: 9 FLOPs per element either way)."""
    fused = archspec.analyze(SPECS / "gpt2.yaml", L=length).totals
    eager = archspec.analyze(SPECS / "gpt2_hf_eager.yaml", L=length).totals
    assert {k: eager[k] for k in ("params", "macs", "flops")} == {k: fused[k] for k in ("params", "macs", "flops")}
