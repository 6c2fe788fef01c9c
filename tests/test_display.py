"""Reports and sweeps in a notebook or a REPL: short reprs, HTML and Markdown displays, the
top-level API visible to help() and dir()."""

import sys

import pytest

import archspec
from archspec.errors import ArchspecError
from tests.conftest import SPECS


def test_reprs_are_short_at_any_size():
    report = archspec.analyze(SPECS / "gpt3_175b.yaml")
    assert len(repr(report)) < 200 and "174,615,846,912" in repr(report)
    free = archspec.analyze(SPECS / "gpt3_175b.yaml", B=None, L=None)
    assert len(repr(free)) < 300 and "free: B, L" in repr(free)
    sweep = archspec.sweep(SPECS / "resnet18.yaml", {"B": "1..2000"})
    assert len(repr(sweep)) < 200 and "2,000 points" in repr(sweep)
    assert len(sweep._repr_html_()) < 10_000  # the first 20 points


def test_html_display_collapses_each_top_level_block():
    html = archspec.analyze(SPECS / "resnet18.yaml")._repr_html_()
    assert html.count("<details>") == 4  # layer1..layer4, each several layers
    assert "<b>resnet18</b>" in html and "params 11,689,512" in html


def test_markdown_display_is_the_markdown_table():
    text = archspec.analyze(SPECS / "alexnet.yaml")._repr_markdown_()
    assert text.startswith("**alexnet**") and "| **total** |" in text


def test_to_pandas_names_the_missing_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ArchspecError, match="pip install pandas"):
        archspec.analyze(SPECS / "alexnet.yaml").to_pandas()


def test_to_pandas_has_a_row_per_layer():
    pandas = pytest.importorskip("pandas")
    report = archspec.analyze(SPECS / "alexnet.yaml")
    frame = report.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(report.layers)
    assert frame["macs"].sum() == report.totals["macs"]


def test_the_api_is_visible_and_lazy():
    names = dir(archspec)
    for name in ("analyze", "memory", "formula", "fit", "sweep", "compare", "import_spec", "Report", "__version__"):
        assert name in names
    assert archspec.memory(SPECS / "gpt2.yaml", dtype="bf16", B=2).totals["weights"] == 2 * 124_439_808
    assert str(archspec.formula(SPECS / "gpt2.yaml", "B")["params"]) == "124439808"
    assert archspec.fit(SPECS / "resnet18.yaml", "B", macs="1e12").value == 551
    with pytest.raises(AttributeError):
        archspec.no_such_thing  # noqa: B018


def test_tables_fit_the_terminal_width(capsys, monkeypatch):
    from archspec.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", str(SPECS / "resnet18.yaml")]) == 0
    table = capsys.readouterr().out.split("\n\nexact totals")[0]
    assert max(map(len, table.splitlines())) <= 80
    assert table.count("layer type") >= 2  # wrapped into blocks, no column dropped
    assert main(["analyze", str(SPECS / "gpt3_175b.yaml"), "--set", "B=null", "--set", "L=null", "--set", "n_layer=null"]) == 0
    out = capsys.readouterr().out
    assert "archspec formula SPEC --symbolic" in out and max(map(len, out.splitlines()[:-2])) <= 80


def test_memory_per_layer_is_a_table_with_shares(capsys):
    from archspec.cli import main

    assert main(["memory", str(SPECS / "resnet18.yaml"), "--per-layer", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("block "):].splitlines()
    shares = [float(line.split()[-3].rstrip("%")) for line in table if line.startswith(("conv1", "bn1", "relu", "maxpool", "layer", "fc"))]
    assert len(shares) == 9 and abs(sum(shares) - 100) < 0.5  # nine shares, each rounded to 0.05%
    assert "21.23 MiB" in table[-1]


def test_emphasis_only_on_a_terminal_and_never_under_no_color(monkeypatch):
    from archspec import formats

    monkeypatch.setattr(formats.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert formats.bold("total") == "\x1b[1mtotal\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert formats.bold("total") == "total"
    monkeypatch.setattr(formats.sys.stdout, "isatty", lambda: False, raising=False)
    monkeypatch.delenv("NO_COLOR")
    assert formats.bold("total") == "total"


def test_share_column_divides_by_the_total_flops_and_marks_the_dominant_layers(monkeypatch):
    """Each row's % FLOPs is its FLOPs over the total (computed here from the exact figures);
    rows of at least 10% are bold on a terminal; a formula total has no share column."""
    from archspec import formats

    report = archspec.analyze(SPECS / "resnet18.yaml").collapsed(1)
    lines = formats.to_table(report).splitlines()
    header = lines[2].split()
    assert header[-2:] == ["%", "FLOPs"]
    for row in report.layers:
        line = next(line for line in lines if line.startswith(row.name + " "))
        share = 100 * row.flops / report.totals["flops"]
        assert line.split()[-1] == (f"{share:.1f}%" if share >= 0.05 or share == 0 else "<0.1%")
    assert lines[-2].split()[-1] == "100%"
    monkeypatch.setattr(formats.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    bold = {line.removeprefix("\x1b[1m").split()[0] for line in formats.to_table(report).splitlines() if line.startswith("\x1b[1m")}
    dominant = {row.name for row in report.layers if 10 * row.flops >= report.totals["flops"]}
    assert dominant == {"layer1", "layer2", "layer3", "layer4"} and bold == dominant | {"name", "total"}
    symbolic = formats.to_table(archspec.analyze(SPECS / "resnet18.yaml", B=None))
    assert "%" not in symbolic.splitlines()[2]


def test_counts_and_bytes_have_one_unit_style():
    """Counts in decimal units up to Y (a training budget's FLOPs), bytes in binary units."""
    from archspec.formats import human, human_bytes

    assert [human(v) for v in (950, 1234, 4.11e9, 17.69e18, 4.161e24)] == ["950", "1.23 K", "4.11 G", "17.69 E", "4.16 Y"]
    assert [human_bytes(v) for v in (512, 1536, 3 * 2**30, 2**40)] == ["512 B", "1.50 KiB", "3.00 GiB", "1.00 TiB"]
