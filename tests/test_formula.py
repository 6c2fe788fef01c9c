"""Symbolic results: subs equals binding before analysis, linearity in B, fit, and every output form."""

import json
import subprocess
import sys
from functools import lru_cache

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.dims import evaluate_at
from archspec.formula import fit, parse_budget, python_expression, shares_by_type
from archspec.symbolic import symbol
from tests.conftest import SPECS

CNNS = ["lenet5.yaml", "alexnet.yaml", "resnet18.yaml", "mobilenet_v2.yaml", "squeezenet1_1.yaml", "googlenet.yaml",
        "shufflenet_v2_x1_0.yaml", "densenet121.yaml", "convnext_tiny.yaml", "efficientnet_b0.yaml"]
COUNTS = ("params", "buffers", "macs", "flops", "activations")


@lru_cache(maxsize=None)
def symbolic(spec, names):
    return archspec.analyze(SPECS / spec, **{name: None for name in names})


@lru_cache(maxsize=None)
def bound(spec, **values):
    return archspec.analyze(SPECS / spec, **values)


@given(st.sampled_from([s for s in CNNS if s != "lenet5.yaml"]), st.integers(1, 6), st.integers(64, 320), st.integers(64, 320))
def test_subs_of_the_symbolic_report_equals_binding_before_analysis(spec, b, h, w):
    at_point = symbolic(spec, ("B", "H", "W")).subs(B=b, H=h, W=w)
    direct = bound(spec, B=b, H=h, W=w)
    assert at_point.totals == direct.totals
    assert [row.output_shapes for row in at_point.layers] == [row.output_shapes for row in direct.layers]
    assert [row.macs for row in at_point.layers] == [row.macs for row in direct.layers]
    assert at_point.params["H"] == h


@pytest.mark.parametrize("spec", [*CNNS, "resnet50.yaml", "unet.yaml", "dcgan_generator.yaml"])
def test_macs_and_flops_of_every_cnn_are_exactly_linear_in_the_batch(spec):
    report = symbolic(spec, ("B",))
    one = bound(spec, B=1)
    for metric in ("macs", "flops", "activations"):
        assert sympy.expand(report.totals[metric] - symbol("B") * one.totals[metric]) == 0, metric
    assert report.totals["params"] == one.totals["params"]


def test_free_depth_formula_matches_each_depth():
    report = symbolic("resnet50.yaml", ("depth3",))
    for depth in (1, 6, 23, 36):
        assert report.subs(depth3=depth).totals == bound("resnet50.yaml", depth3=depth).totals


@given(st.integers(10**6, 10**13), st.sampled_from(["macs", "flops"]))
def test_fit_returns_the_largest_batch_within_the_budget(budget, metric):
    report = symbolic("resnet18.yaml", ("B",))
    formula = report.totals[metric]
    result = fit(lambda n: evaluate_at(formula, {"B": n}), lambda n: {}, "B", metric, budget)
    per_image = bound("resnet18.yaml", B=1).totals[metric]
    assert result.value == budget // per_image  # linear in B: an independent closed form
    if result.value:
        assert evaluate_at(formula, {"B": result.value}) <= budget < evaluate_at(formula, {"B": result.value + 1})


def test_fit_over_a_resolution_with_floors():
    report = symbolic("resnet18.yaml", ("H",))
    formula = report.totals["macs"]
    result = fit(
        lambda n: evaluate_at(formula, {"H": n}),
        lambda n: {k: evaluate_at(v, {"H": n}) for k, v in shares_by_type(report.layers, "macs").items()},
        "H",
        "macs",
        10**9,
    )
    at = [bound("resnet18.yaml", H=h).totals["macs"] for h in (result.value, result.value + 1)]
    assert at[0] <= 10**9 < at[1]
    assert result.dominant[0][0] == "Conv2d"


@pytest.mark.parametrize("text, value", [("1e12", 10**12), ("4.1G", 4_100_000_000), ("24GiB", 24 * 2**30), ("500M", 5 * 10**8), ("7", 7)])
def test_budgets(text, value):
    assert parse_budget(text) == value


def run(*args):
    return subprocess.run([sys.executable, "-m", "archspec", *args], capture_output=True, text=True)


def points(names, count=5):
    return [{n: 32 + 37 * i + 5 * j for j, n in enumerate(names)} | {"B": 1 + i} for i in range(count)]


def test_json_formulas_read_back_with_sympify_and_evaluate_exactly():
    result = run("formula", str(SPECS / "resnet18.yaml"), "--symbolic", "B,H,W", "--format", "json", "--metric", "all", "--per-layer")
    data = json.loads(result.stdout)
    exact = symbolic("resnet18.yaml", ("B", "H", "W"))
    for metric, text in data["totals"].items():
        parsed = sympy.sympify(text)  # the test reads our output; the package never sympifies text
        for point in points(["H", "W"]):
            value = parsed.subs({sympy.Symbol(k): v for k, v in point.items()})
            assert value == evaluate_at(exact.totals[metric], point), metric
    assert len(data["layers"]) == len(exact.layers)


def test_python_output_is_a_function_that_computes_the_exact_counts(tmp_path):
    result = run("formula", str(SPECS / "googlenet.yaml"), "--symbolic", "B,H,W", "--format", "python")
    namespace = {}
    exec(compile(result.stdout, "formulas.py", "exec"), namespace)  # noqa: S102 - our own generated output
    for point in points(["H", "W"]):
        direct = bound("googlenet.yaml", **point).totals
        assert namespace["macs"](**point) == direct["macs"]
        assert namespace["flops"](**point) == direct["flops"]


def test_assumed_divisibility_gives_a_closed_form_exact_on_multiples():
    result = run("formula", str(SPECS / "resnet50.yaml"), "--symbolic", "B,H,W", "--assume", "H%32==0", "--assume", "W%32==0", "--metric", "macs")
    assert "assuming H % 32 == 0" in result.stdout
    assert "macs = 16*B*(5091*H*W + 128000)" in result.stdout
    for h, w in ((224, 224), (256, 320), (32, 64)):
        assert 16 * (5091 * h * w + 128000) == bound("resnet50.yaml", H=h, W=w).totals["macs"]


def test_approximate_formulas_are_labelled_and_smooth():
    result = run("formula", str(SPECS / "resnet50.yaml"), "--symbolic", "B,H,W", "--approx", "--metric", "macs")
    assert "APPROXIMATE" in result.stdout and "//" not in result.stdout


def test_latex_output():
    result = run("formula", str(SPECS / "resnet18.yaml"), "--symbolic", "B,H", "--format", "latex", "--metric", "macs")
    assert result.stdout.startswith("\\mathrm{macs} = ") and "\\left\\lfloor \\frac{H - 1}{2} \\right\\rfloor" in result.stdout


def test_fit_command():
    result = run("fit", str(SPECS / "resnet50.yaml"), "--for", "B", "--macs", "1T", "--format", "json")
    data = json.loads(result.stdout)
    assert data["value"] == 10**12 // 4_089_184_256
    assert data["at_value"] <= 10**12 < data["at_next"]
    assert data["largest_shares"][0]["type"] == "Conv2d"


def test_formula_usage_errors():
    assert run("formula", str(SPECS / "resnet18.yaml"), "--metric", "speed").returncode == 2
    assert run("formula", str(SPECS / "resnet18.yaml"), "--symbolic", "B", "--assume", "H%32==0").returncode == 2
    bad = run("formula", str(SPECS / "resnet18.yaml"), "--symbolic", "B,H", "--assume", "H%%32")
    assert bad.returncode == 1 and "write NAME%K==0" in bad.stderr
    still_free = run("fit", str(SPECS / "resnet18.yaml"), "--for", "B", "--macs", "1T", "--set", "H=null")
    assert still_free.returncode == 1 and "still depends on H" in still_free.stderr


def test_lambdify_evaluates_a_grid_like_subs():
    report = symbolic("resnet18.yaml", ("B", "H", "W"))
    function = report.lambdify(["B", "H", "W"])
    batches, heights = [1, 2, 3], [64, 224, 300]
    values = function(batches, heights, 224)
    for i, (b, h) in enumerate(zip(batches, heights)):
        assert int(values["macs"][i]) == report.subs(B=b, H=h, W=224).totals["macs"]


def test_python_expression_stays_exact_with_rational_coefficients():
    h = symbol("H")
    text = python_expression(h * 3 / 2 + 1)
    assert eval(text, {"H": 4}) == 7  # noqa: S307 - our own generated text; (3*H + 2) // 2


def test_memory_formulas_evaluate_to_the_memory_command_figures():
    """`formula --metric memory` in B and L, evaluated, equals the memory breakdown at each point."""
    from archspec.memory import MemoryOptions, memory

    result = run(
        "formula", str(SPECS / "gpt2_hf_eager.yaml"), "--symbolic", "B,L", "--metric", "memory", "--format", "json", "--device", "cpu"
    )
    data = json.loads(result.stdout)
    assert set(data["totals"]) == {"weights", "gradients", "optimizer", "master_weights", "saved_activations", "training_total"}
    for b, length in [(1, 128), (3, 64), (2, 1024)]:
        expected = memory(archspec.analyze(SPECS / "gpt2_hf_eager.yaml", B=b, L=length), MemoryOptions(device="cpu")).totals
        for key, text in data["totals"].items():
            assert sympy.sympify(text).subs({"B": b, "L": length}) == expected[key], key
    inference = json.loads(run("formula", str(SPECS / "llama3_8b.yaml"), "--symbolic", "L", "--metric", "memory", "--inference", "--format", "json").stdout)
    assert set(inference["totals"]) == {"weights", "inference_peak", "kv_cache", "inference_total"}


def test_formula_keeps_buffers_the_element_count_beside_memory():
    data = json.loads(run("formula", str(SPECS / "resnet18.yaml"), "--metric", "buffers,weights", "--format", "json").stdout)
    assert data["totals"] == {"buffers": "9620", "weights": str(4 * 11_689_512)}
    bad = run("formula", str(SPECS / "resnet18.yaml"), "--metric", "bytes")
    assert bad.returncode == 2 and "memory or one of weights, gradients" in bad.stderr


FIT_MEMORY_CASES = [
    ([], {}),
    (["--dtype", "bf16", "--optimizer", "adamw", "--device", "cpu"], {"dtype": "bf16", "optimizer": "adamw", "device": "cpu"}),
    (["--inference", "--dtype", "bf16"], {"training": False, "dtype": "bf16"}),
]


@pytest.mark.parametrize("options, chosen", FIT_MEMORY_CASES)
def test_fit_memory_finds_the_largest_batch_within_the_budget(options, chosen):
    from archspec.memory import MemoryOptions, memory

    result = run("fit", str(SPECS / "lstm_2layer.yaml"), "--for", "B", "--memory", "64MiB", "--format", "json", *options)
    found = json.loads(result.stdout)["value"]
    chosen = MemoryOptions(**chosen)
    key = "training_total" if chosen.training else "inference_total"

    def total(b):
        return memory(archspec.analyze(SPECS / "lstm_2layer.yaml", B=b), chosen).totals[key]

    assert found >= 1 and total(found) <= 64 * 2**20 < total(found + 1)
