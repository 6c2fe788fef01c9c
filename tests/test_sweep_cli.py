"""The sweep command's bounds and outputs (archspec/sweep_cli.py): the point count refused up
front, output paths checked first, files replaced only when complete, Ctrl-C clean, cells safe
in a spreadsheet, and every figure streamed equal to `analyze` at that point."""

import csv
import json

import pytest

import archspec
from archspec import sweeps
from archspec.cli import main
from tests.conftest import SPECS

RESNET18 = SPECS / "resnet18.yaml"


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "bug in archspec" not in captured.err
    return code, captured.out, captured.err


def test_a_huge_grid_is_refused_before_any_work(capsys):
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1..1000000000")
    assert code == 1 and "1,000,000,000 points" in err and "--max-points" in err
    code, _, err = _run(capsys, "sweep", RESNET18, "--random", 10**22, "--range", "B=1:8")
    assert code == 1 and "over the limit" in err


def test_a_large_range_is_never_expanded():
    axis = sweeps.grid_axis("B=1..10000000000000")
    assert isinstance(axis.values, range) and axis.extremes() == (1, 10**13)
    points = sweeps.points_of([axis, sweeps.grid_axis("H=1,2")], None, 0)
    assert [next(points) for _ in range(3)] == [(1, 1), (1, 2), (2, 1)]
    assert sweeps.point_count([axis, sweeps.grid_axis("H=1,2")], None) == 2 * 10**13


def test_output_paths_and_the_plot_backend_are_checked_first(capsys, tmp_path):
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1,2", "--out", tmp_path / "missing" / "x.csv")
    assert code == 1 and "does not exist" in err
    (tmp_path / "d.csv").mkdir()
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1,2", "--out", tmp_path / "d.csv")
    assert code == 1 and "is a directory" in err
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1,2", "--plot", tmp_path / "x.gif")
    assert code == 1 and ".png" in err


def test_an_interrupted_sweep_keeps_the_previous_file(capsys, tmp_path, monkeypatch):
    out = tmp_path / "points.csv"
    out.write_text("previous\n")

    def interrupted(self, points):
        yield from original(self, iter([next(iter(points))]))
        raise KeyboardInterrupt

    original = sweeps.Plan.chunks
    monkeypatch.setattr(sweeps.Plan, "chunks", interrupted)
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1..10", "--out", out)
    assert code == 130 and "interrupted after 1 of 10 points" in err
    assert out.read_text() == "previous\n"
    assert list(tmp_path.iterdir()) == [out]  # no partial file left beside it


def test_a_file_is_replaced_when_complete_and_said_so(capsys, tmp_path):
    out = tmp_path / "points.csv"
    out.write_text("previous\n")
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1..5", "--out", out)
    assert code == 0 and f"replaced {out}" in err
    rows = list(csv.DictReader(out.open()))
    assert [int(r["B"]) for r in rows] == [1, 2, 3, 4, 5]
    for row in rows:  # streamed figures equal analyze at each point
        report = archspec.analyze(RESNET18, B=int(row["B"]))
        assert int(row["macs"]) == report.totals["macs"] and int(row["flops"]) == report.totals["flops"]


def test_pareto_to_a_file_marks_the_front_in_a_second_pass(capsys, tmp_path):
    out = tmp_path / "front.jsonl"
    code, _, _ = _run(capsys, "sweep", RESNET18, "--grid", "B=1,2", "--grid", "depth1=1..3", "--pareto", "macs,params",
                      "--out", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and len(rows) == 6
    front = [r for r in rows if r["pareto"]]
    assert front == [r for r in rows if not any(o["macs"] <= r["macs"] and o["params"] <= r["params"] and o != r
                                                 and (o["macs"] < r["macs"] or o["params"] < r["params"]) for o in rows)]


def test_text_cells_cannot_start_a_spreadsheet_formula():
    from archspec.sweep_cli import _text_cell

    assert _text_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _text_cell("+1") == "'+1" and _text_cell("@x") == "'@x"
    assert _text_cell('a, "b"') == '"a, ""b"""'
    assert _text_cell("a dimension is below 1") == "a dimension is below 1"


def test_workers_are_capped_at_the_cores(capsys):
    code, _, err = _run(capsys, "sweep", RESNET18, "--grid", "B=1,2", "--workers", 1000)
    assert code == 0 and "capped at" in err


def test_a_structural_sweep_on_a_dask_cluster_equals_the_local_one():
    pytest.importorskip("distributed")  # the dask extra (in the test extras)
    grid = {"width_mult": "0.5,1.0,1.5", "depth_mult": "0.5,1.0,1.5"}
    local = archspec.sweep(SPECS / "efficientnet_b0.yaml", grid, workers=1)
    on_dask = archspec.sweep(SPECS / "efficientnet_b0.yaml", grid, workers=2, executor="dask")
    assert local.method == on_dask.method == "per-point"
    assert local.rows == on_dask.rows


def test_dask_missing_or_a_bad_executor_are_clear_errors(monkeypatch):
    from archspec.sweeps import SweepError

    with pytest.raises(SweepError, match="choose local"):
        archspec.sweep(RESNET18, {"B": "1,2"}, executor="ray")
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(SweepError, match="archspec-nn\\[dask\\]"):
        archspec.sweep(SPECS / "efficientnet_b0.yaml", {"width_mult": "0.5,1.0"}, executor="dask")


def test_plots_for_a_paper(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    from archspec.plot import sweep_figure

    rows = archspec.sweep(SPECS / "resnet18.yaml", {"B": "1..4", "H": "224"}, ["params", "macs"]).rows
    figure = sweep_figure(rows, ["B", "H"], ["params", "macs"], None, "resnet18")
    assert figure._suptitle.get_text() == "resnet18: H=224"  # a constant axis stated once
    labels = [t.get_text() for t in figure.axes[1].get_yticklabels()]
    figure.canvas.draw()
    labels = [t.get_text() for t in figure.axes[1].get_yticklabels()]
    assert any(label.endswith("G") for label in labels)  # engineering ticks: 3G, not 3e9
    out = tmp_path / "front.pdf"
    assert main(["sweep", str(SPECS / "resnet18.yaml"), "--grid", "B=1,2", "--grid", "depth1=1..3", "--pareto",
                 "macs,params", "--plot", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("mode, total", [("--training", "training_total"), ("--inference", "inference_total")])
def test_memory_is_the_total_the_memory_options_ask_for(capsys, mode, total):
    """`--metrics memory` equals the memory breakdown's total at every point, in each mode."""
    assert main(["sweep", str(SPECS / "gpt2.yaml"), "--grid", "B=1,3", "--metrics", "memory", mode, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    training = mode == "--training"
    assert [r["memory"] for r in rows] == [archspec.memory(SPECS / "gpt2.yaml", training=training, B=b).totals[total] for b in (1, 3)]


# ---- Parquet (the parquet extra) --------------------------------------------------------------
def test_parquet_holds_the_csv_figures_exactly_past_int64(capsys, tmp_path):
    # llama3_405b at B = 10^5 has 3.6e20 MACs, past int64: such a column is decimal(38, 0), exact
    pq = pytest.importorskip("pyarrow.parquet")
    args = ["sweep", SPECS / "llama3_405b.yaml", "--grid", "B=1,1000,100000", "--grid", "L=2048,8192"]
    assert _run(capsys, *args, "--out", tmp_path / "a.parquet")[0] == 0
    assert _run(capsys, *args, "--out", tmp_path / "a.csv")[0] == 0
    table = pq.read_table(tmp_path / "a.parquet")
    assert str(table.schema.field("params").type) == "int64" and str(table.schema.field("macs").type) == "decimal128(38, 0)"
    with open(tmp_path / "a.csv", newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert [{k: str(v) for k, v in row.items()} for row in table.to_pylist()] == expected


def test_parquet_widens_a_column_when_a_later_chunk_needs_it(tmp_path):
    # the file's types come from its first chunk: a metric all invalid there (null), or int64
    # there and past it later, makes the writer rewrite the file with the wider type
    pq = pytest.importorskip("pyarrow.parquet")
    from archspec.sweep_cli import _ParquetWriter
    from archspec.sweeps import Chunk

    writer = _ParquetWriter(tmp_path / "w.parquet", ["B"], ["macs", "flops"])
    chunks = [
        ({"B": [1, 2], "macs": [5, 6], "flops": [0, 0]}, ["", "too big"]),
        ({"B": [3], "macs": [2**70], "flops": [7]}, [""]),
        ({"B": [4], "macs": [10**40], "flops": [8]}, [""]),
    ]
    for columns, errors in chunks:
        writer.write(Chunk(columns, errors, 1), [True] * len(errors))
    writer.close()
    table = pq.read_table(tmp_path / "w.parquet")
    assert str(table.schema.field("macs").type) == "string"  # 10^40 passes decimal(38, 0)
    assert table.column("macs").to_pylist() == ["5", None, str(2**70), str(10**40)]
    assert table.column("flops").to_pylist() == [0, None, 7, 8]
    assert table.column("B").to_pylist() == [1, 2, 3, 4]
