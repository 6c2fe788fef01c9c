"""The time model's commands (archspec/timing/commands.py): their JSON and the figures in it."""

import json

import pytest

import archspec
from archspec.cli import main
from archspec.hardware import get_device
from tests.conftest import SPECS


def _json(capsys, *args):
    assert main([*map(str, args), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_devices_json_lists_every_figure_with_its_source(capsys):
    data = _json(capsys, "devices")
    h100 = data["h100-sxm"]
    assert h100["matmul_flops"]["bf16"] == 989.4e12
    assert h100["memory_bytes"] == 80 * 2**30
    assert set(h100["sources"]) >= {"compute", "memory", "intra_node", "inter_node"}


def test_roofline_of_a_decode_step(capsys):
    data = _json(capsys, "roofline", SPECS / "llama3_8b.yaml", "--device", "h100-sxm", "--decode", "--set", "B=32", "--set", "P=4096")
    for key in ("time_s", "bytes", "flops", "decode_tokens_per_s", "largest_batch"):
        assert key in data
    # rel=1e-12 here and below: the same closed form, only rounded differently in floating point
    assert data["decode_tokens_per_s"] == pytest.approx(32 / data["time_s"], rel=1e-12)
    # the largest batch: bf16 weights plus each sequence's KV cache (2 x 32 layers x 8 kv heads x
    # 128 x 4,096 tokens x 2 bytes) fill 80 GiB; one step's activations take a little more
    weights = 2 * archspec.analyze(SPECS / "llama3_8b.yaml").totals["params"]
    per_sequence = 2 * 32 * 8 * 128 * 4096 * 2
    room = (80 * 2**30 - weights) // per_sequence
    assert room - 2 <= data["largest_batch"] <= room


def test_a_decode_step_with_a_free_batch_prints_its_time_as_a_formula(capsys):
    # the bound in B, evaluated at a batch, equals the bound computed at that batch
    from archspec.dims import evaluate_at

    args = ["roofline", SPECS / "llama3_8b.yaml", "--device", "h100-sxm", "--decode", "--set", "P=4096"]
    code = main([str(a) for a in [*args, "--set", "B=null"]])
    text = capsys.readouterr().out
    assert code == 0 and "time >= " in text and "largest batch beside its KV cache" in text
    from archspec.timing import Efficiency, roofline

    device = get_device("h100-sxm")
    free = roofline(archspec.analyze(SPECS / "llama3_8b.yaml", decode=True, B=None, P=4096), device, "bf16", Efficiency())[1]
    bound = roofline(archspec.analyze(SPECS / "llama3_8b.yaml", decode=True, B=32, P=4096), device, "bf16", Efficiency())[1]
    assert float(evaluate_at(free["time_s"], {"B": 32})) == pytest.approx(bound["time_s"], rel=1e-9)


def test_a_decode_step_over_a_free_past_through_eager_attention_is_a_formula(capsys):
    """The eager path's mask pass over a past that is a free param (an internal error before)."""
    from archspec.dims import evaluate_at
    from archspec.timing import Efficiency, roofline

    spec, device = SPECS / "gpt2_hf_eager.yaml", get_device("h100-sxm")
    code = main(["roofline", str(spec), "--device", "h100-sxm", "--decode", "--set", "B=8", "--set", "P=null"])
    assert code == 0 and "time >= " in capsys.readouterr().out
    free = roofline(archspec.analyze(spec, decode=True, B=8, P=None), device, "bf16", Efficiency())[1]
    bound = roofline(archspec.analyze(spec, decode=True, B=8, P=512), device, "bf16", Efficiency())[1]
    assert float(evaluate_at(free["time_s"], {"P": 512})) == pytest.approx(bound["time_s"], rel=1e-9)


@pytest.mark.parametrize("args, free", [
    (["time", SPECS / "resnet50.yaml", "--device", "h100-sxm", "--set", "B=null"], "B is free"),
    (["time", SPECS / "gpt2.yaml", "--device", "h100-sxm", "--gpus", 8, "--set", "L=null"], "L is free"),
    (["time", SPECS / "gpt2.yaml", "--device", "h100-sxm", "--global-batch", 8, "--set", "B=null"], "B is free"),
    (["plan", SPECS / "gpt2.yaml", "--device", "h100-sxm", "--gpus", 8, "--global-batch", 64, "--set", "L=null"], "L is free"),
])
def test_time_and_plan_with_a_free_param_are_errors_naming_it(capsys, args, free):
    assert main([str(a) for a in args]) == 1
    err = capsys.readouterr().err
    assert free in err and "bug in archspec" not in err


def test_the_step_time_of_a_report_with_a_free_param_is_an_error_naming_it():
    """From Python too (it was a TypeError converting the MACs to an int)."""
    from archspec.errors import ArchspecError
    from archspec.memory import MemoryOptions
    from archspec.parallel import Layout
    from archspec.timing import training_step

    report = archspec.analyze(SPECS / "gpt2.yaml", L=None)
    with pytest.raises(ArchspecError, match="L is free"):
        training_step(report, MemoryOptions(dtype="bf16"), Layout(), get_device("h100-sxm"))


def test_roofline_of_a_forward_pass_is_the_prefill_bound(capsys):
    data = _json(capsys, "roofline", SPECS / "llama3_8b.yaml", "--device", "h100-sxm", "--set", "B=1", "--set", "L=2048")
    device = get_device("h100-sxm")
    assert data["time_s"] >= data["flops"] / device.matmul_flops("bf16")
    assert "decode_tokens_per_s" not in data


def test_time_reports_a_cost_for_a_token_budget(capsys):
    data = _json(capsys, "time", SPECS / "gpt2.yaml", "--device", "a100-80gb", "--gpus", 8, "--global-batch", 64,
                 "--tokens", "1B", "--price", 2.0)
    assert data["devices"] == 8 and data["tokens"] == 10**9
    assert data["gpu_hours"] == pytest.approx(data["time_s"] * 8 / 3600, rel=1e-12)
    assert data["cost"] == pytest.approx(2.0 * data["gpu_hours"], rel=1e-12)


def test_plan_ranks_layouts_that_fit_by_step_time(capsys):
    data = _json(capsys, "plan", SPECS / "gpt2.yaml", "--device", "a100-40gb", "--gpus", 8, "--global-batch", 32)
    times = [row["step_time_s"] for row in data["layouts"]]
    assert times and times == sorted(times)
    assert all(row["memory"] <= 40 * 2**30 for row in data["layouts"])


def test_plan_searches_expert_parallel_sizes_for_a_mixture_of_experts(capsys):
    data = _json(capsys, "plan", SPECS / "mixtral_8x7b.yaml", "--device", "h100-sxm", "--gpus", 8, "--global-batch", 16,
                 "--set", "n_layer=4", "--set", "L=512", "--top", 1000)
    layouts = data["layouts"]
    assert {row["ep"] for row in layouts} == {1, 2, 4, 8}  # the sizes that divide the 8 experts
    assert all(row["dp"] % row["ep"] == 0 for row in layouts)  # expert ranks are carved from data ranks
    dense = _json(capsys, "plan", SPECS / "gpt2.yaml", "--device", "a100-40gb", "--gpus", 8, "--global-batch", 32)
    assert {row["ep"] for row in dense["layouts"]} == {1}


def test_text_output_uses_the_unit_style_of_every_command(capsys):
    """Counts in K/M/G/T/P, bytes in binary units, no float exponents, no stray debug lines;
    GPU-hours below one are not rounded to 0."""
    assert main(["roofline", str(SPECS / "resnet50.yaml"), "--device", "a100-80gb", "--set", "B=64"]) == 0
    roofline = capsys.readouterr().out
    assert "time_s =" not in roofline and "GFLOPs" in roofline and "GiB moved" in roofline
    assert main(["time", str(SPECS / "gpt2.yaml"), "--device", "h100-sxm", "--gpus", "8", "--global-batch", "64",
                 "--tokens", "1B"]) == 0
    time = capsys.readouterr().out
    assert "e+" not in time and " T  (6 x MACs" in time and "PFLOPs" in time
    data = _json(capsys, "time", SPECS / "gpt2.yaml", "--device", "h100-sxm", "--gpus", 8, "--global-batch", 64, "--tokens", "1B")
    assert 0 < data["gpu_hours"] < 1 and f"{data['gpu_hours']:.3g} GPU-hours" in time
