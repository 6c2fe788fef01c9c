"""Sweeps: the vectorized path equals per-point analyses, Pareto marking, outputs, plots, bad axes."""

import csv
import json
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archspec
from archspec.errors import ArchspecError
from archspec.sweeps import Axis, SweepError, grid_axis, mark_pareto, range_axis, sweep
from tests.conftest import SPECS

RESNET18 = SPECS / "resnet18.yaml"
METRICS = ("params", "macs", "flops", "activations")


def per_point(spec, names, row, metrics=METRICS):
    """The independent path: one full analysis at the point."""
    try:
        totals = archspec.analyze(spec, **{n: row[n] for n in names}).totals
        return {m: totals[m] for m in metrics}
    except ArchspecError:
        return None


@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=2, unique=True),
    st.lists(st.integers(8, 90), min_size=1, max_size=3, unique=True),
    st.lists(st.integers(1, 3), min_size=1, max_size=2, unique=True),
)
def test_vectorized_sweep_equals_per_point_analyses(batches, heights, depths):
    axes = [Axis("B", tuple(batches)), Axis("H", tuple(heights)), Axis("depth2", tuple(depths))]
    result = sweep(RESNET18, metrics=METRICS, axes=axes)
    assert result.method == "vectorized"
    assert len(result.rows) == len(batches) * len(heights) * len(depths)
    for row in result.rows:
        expected = per_point(RESNET18, ["B", "H", "depth2"], row)
        if expected is None:
            assert row["error"] and all(row[m] is None for m in METRICS)
        else:
            assert not row["error"] and {m: row[m] for m in METRICS} == expected


def test_structural_params_are_bound_per_group():
    grid = {"width_mult": [0.5, 0.75, 1.0], "H": "192..224:32"}
    result = archspec.sweep(SPECS / "mobilenet_v2.yaml", grid, ["params", "macs"], workers=1)
    assert result.method == "grouped"
    for row in result.rows:
        assert {m: row[m] for m in ("params", "macs")} == per_point(
            SPECS / "mobilenet_v2.yaml", ["width_mult", "H"], {**row, "width_mult": Fraction(str(row["width_mult"]))}, ("params", "macs")
        )
    assert [r["params"] for r in result.rows if r["H"] == 224] == [1_968_680, 2_636_424, 3_504_872]


def test_random_samples_are_seeded_and_respect_integer_params():
    axes = [range_axis("width_mult=0.5:2.0"), range_axis("H=100:300")]
    one = sweep(SPECS / "mobilenet_v2.yaml", metrics=["params"], axes=axes, samples=5, seed=3, workers=1)
    two = sweep(SPECS / "mobilenet_v2.yaml", metrics=["params"], ranges={"width_mult": (0.5, 2.0), "H": (100, 300)}, samples=5, seed=3, workers=1)
    assert one.rows == two.rows
    assert all(isinstance(r["H"], int) and 100 <= r["H"] <= 300 and 0.5 <= r["width_mult"] <= 2.0 for r in one.rows)


def dominated(point, others):
    return any(o[0] <= point[0] and o[1] <= point[1] and o != point for o in others)


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=40))
def test_pareto_marking_equals_a_brute_force_dominance_check(points):
    rows = [{"a": a, "b": b} for a, b in points]
    mark_pareto(rows, "a", "b")
    for row, point in zip(rows, points):
        assert row["pareto"] == (not dominated(point, points)), point


@pytest.mark.parametrize(
    "axis, message",
    [
        ("Q=1,2", "axis Q: not a param of the spec"),
        ("H=10..5", "axis H: the range 10..5 is empty"),
        ("H=224.5", "axis H: 449/2 is not an integer"),
        ("H=", "write NAME=v1,v2"),
    ],
)
def test_bad_axes_fail_before_any_work(axis, message):
    with pytest.raises(SweepError, match=message):
        sweep(RESNET18, axes=[grid_axis(axis)])


@pytest.mark.parametrize("binding", [None, 3])
def test_a_param_both_bound_and_swept_is_refused(binding):
    """`--set B=null --grid B=1,2` was an internal error (two values for B)."""
    with pytest.raises(SweepError, match="B: both bound .* and swept"):
        sweep(RESNET18, axes=[grid_axis("B=1,2")], bindings={"B": binding})


def run(*args):
    return subprocess.run([sys.executable, "-m", "archspec", "sweep", str(RESNET18), *args], capture_output=True, text=True)


def test_csv_and_jsonl_outputs_round_trip(tmp_path):
    expected = sweep(RESNET18, {"H": "64..128:32", "B": [1, 2]}, ["params", "macs"]).rows
    for suffix in (".csv", ".jsonl"):
        out = tmp_path / f"sweep{suffix}"
        result = run("--grid", "H=64..128:32", "--grid", "B=1,2", "--metrics", "params,macs", "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "6 points (6 kept and valid), vectorized evaluation" in result.stderr
        if suffix == ".csv":
            rows = [{k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in r.items()} for r in csv.DictReader(out.open())]
        else:
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert rows == expected


def test_where_and_pareto_and_table():
    result = run("--grid", "H=64..320:64", "--grid", "depth3=1..4", "--where", "macs <= 2G", "--pareto", "macs,params", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert "pareto" in result.stdout and "Pareto points" in result.stdout
    bad = run("--grid", "H=64", "--pareto", "macs,speed")
    assert bad.returncode == 1 and "--pareto takes two of the swept metrics" in bad.stderr
    unknown = run("--grid", "Hh=64")
    assert unknown.returncode == 1 and "did you mean 'H'?" in unknown.stderr


def test_plot_is_a_labelled_png(tmp_path):
    from archspec.plot import sweep_figure

    rows = sweep(RESNET18, {"H": "64..512:64", "B": [1, 16]}, ["params", "macs"]).rows
    figure = sweep_figure(rows, ["H", "B"], ["params", "macs"], None)
    labels = [(a.get_xlabel(), a.get_ylabel(), a.get_yscale()) for a in figure.axes]
    # params do not change (linear axis); MACs span more than two decades (log axis)
    assert labels == [("H", "parameters", "linear"), ("H", "MACs (multiply-accumulates)", "log")]
    out = tmp_path / "sweep.png"
    result = run("--grid", "H=64..512:64", "--grid", "B=1,256", "--metrics", "macs", "--plot", str(out))
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    mark_pareto(rows, "macs", "params")
    front = sweep_figure(rows, ["H", "B"], ["params", "macs"], ("macs", "params"))
    assert (front.axes[0].get_xlabel(), front.axes[0].get_ylabel()) == ("MACs (multiply-accumulates)", "parameters")
    assert front.axes[0].get_xscale() == "log"  # MACs span more than two decades here


@pytest.mark.parametrize(
    "spec, grid",
    [("gpt3_175b.yaml", {"B": [8192, 16384, 32768]}), ("resnet18.yaml", {"B": [1, 5_000_000_000, 2**40]})],
)
def test_sweep_figures_equal_analyze_beyond_int64(spec, grid):
    # the vectorized path once wrapped around in int64: -6.4e18 FLOPs for GPT-3 at B=16384
    result = archspec.sweep(SPECS / spec, grid, ["params", "macs", "flops", "activations"])
    assert result.method == "vectorized"
    for row in result.rows:
        totals = archspec.analyze(SPECS / spec, B=row["B"]).totals
        assert all(row[m] == totals[m] and row[m] > 0 for m in ("params", "macs", "flops", "activations"))


def test_where_and_pareto_rank_exact_values_beyond_int64(tmp_path):
    out = tmp_path / "front.csv"
    cmd = [sys.executable, "-m", "archspec.cli", "sweep", str(SPECS / "gpt3_175b.yaml"), "--grid", "B=8192,16384,32768",
           "--metrics", "flops,macs", "--where", "flops >= 1e19", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = list(csv.DictReader(out.open()))
    assert [int(r["B"]) for r in rows] == [16384, 32768]
    assert int(rows[0]["flops"]) == archspec.analyze(SPECS / "gpt3_175b.yaml", B=16384).totals["flops"]


def test_subs_refuses_values_that_make_no_network():
    report = archspec.analyze(RESNET18, B=None, H=None)
    for bad in ({"B": -3}, {"B": 0}, {"H": 0}, {"B": 2.5}, {"B": True}):
        with pytest.raises(ArchspecError):
            report.subs(**bad)
    with pytest.raises(ArchspecError, match="unknown params"):
        report.subs(Q=1)
    with pytest.raises(ArchspecError, match="empty dimension"):
        archspec.analyze(SPECS / "vgg16.yaml", H=None, W=None).subs(H=8, W=8)  # five 2x2 pools: 8 -> 0


def test_lambdify_refuses_fractions_instead_of_truncating():
    function = archspec.analyze(RESNET18, B=None).lambdify(["B"], ("macs",))
    assert function([2])["macs"].tolist() == [2 * 1_814_073_344]
    with pytest.raises(ArchspecError, match="whole number"):
        function([2.5])


def test_a_structural_sweep_shows_progress_per_structure_with_rate_and_eta(capsys):
    """The progress line moves as each structure is analyzed (a structural sweep is one chunk),
    with a rate and an ETA, once the sweep has run over a second."""
    from archspec.sweeps import Plan, ProgressLine, grid_axis, points_of

    axes = [grid_axis("width_mult=0.5,0.75,1.0")]
    line = ProgressLine(3)
    line.start -= 10  # as if the sweep had run for ten seconds already
    plan = Plan(SPECS / "mobilenet_v2.yaml", axes, ["params"], workers=1, progress=line)
    assert plan.structural == ["width_mult"]
    list(plan.chunks(points_of(axes, None, 0, plan.integer_axes)))
    err = capsys.readouterr().err
    assert "1/3 points" in err and "2/3 points" in err and "/s, ETA" in err
