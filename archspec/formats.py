"""Rendering a Report: terminal table, JSON, CSV and Markdown. A thin layer over Report data."""

from __future__ import annotations

import csv
import io
import json

from archspec.dims import Value, as_plain
from archspec.report import Report

FORMATS = ("table", "json", "csv", "markdown")
# archspec.formula renders these; named here so the command line need not import sympy
FORMULA_FORMATS = ("text", "latex", "json", "python")

_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


_BINARY = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def _fraction_as_float(value):
    """A non-integer exact number (ptflops' per-sample average) as a float for display."""
    return float(value) if getattr(value, "is_Rational", False) else value


def _in_units(value: Value, units, small: str) -> str:
    value = _fraction_as_float(as_plain(value))
    if not isinstance(value, (int, float)):
        return str(value)  # a formula is shown as it is
    for scale, unit in units:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:g}{small}" if isinstance(value, float) else f"{value}{small}"


def human(value: Value) -> str:
    """A count in human units: 950, 1.23 K, 4.11 G."""
    return _in_units(value, _UNITS, "")


def human_bytes(value: Value) -> str:
    """Bytes in binary units: 512 B, 1.50 GiB."""
    return _in_units(value, _BINARY, " B")


def grouped(value: Value) -> str:
    """An exact count with thousands separators: 138,357,544."""
    value = _fraction_as_float(as_plain(value))
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def shape_text(shape) -> str:
    return "[" + ", ".join(str(as_plain(d)) for d in shape) + "]"


def shapes_text(shapes) -> str:
    """Several tensors' shapes (a Split's outputs), separated by semicolons."""
    return "; ".join(shape_text(shape) for shape in shapes)


def render(report: Report, fmt: str) -> str:
    """The report in one of FORMATS."""
    return {"table": to_table, "json": to_json, "csv": to_csv, "markdown": to_markdown}[fmt](report)


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


_COLUMNS = ("name", "type", "output shape", "params", "MACs", "FLOPs")


def _rows(report: Report, number) -> list[list[str]]:
    rows = [
        [_row_name(row), row.type, shapes_text(row.output_shapes), number(row.params), number(row.macs), number(row.flops)]
        for row in report.layers
    ]
    totals = report.totals
    rows.append(["total", "", "", number(totals["params"]), number(totals["macs"]), number(totals["flops"])])
    return rows


def _row_name(row) -> str:
    # A row under a repeat whose count is a free symbol stands for that many applications.
    name = row.name if row.times == 1 else f"{row.name} (x{row.times})"
    return f"{name} (shares {row.shares})" if row.shares else name


def to_table(report: Report) -> str:
    rows = _rows(report, human)
    widths = [max(len(str(cell)) for cell in column) for column in zip(_COLUMNS, *rows)]
    numeric = {3, 4, 5}

    def line(cells) -> str:
        parts = [cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    inputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.inputs.items())
    outputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.outputs.items())
    rule = "-" * len(line(_COLUMNS))
    lines = [f"{report.name}: input {inputs} -> output {outputs}", rule, line(_COLUMNS), rule]
    lines += [line(row) for row in rows[:-1]]
    lines += [rule, line(rows[-1])]
    totals = report.totals
    lines.append(
        f"params {grouped(totals['params'])}, buffers {grouped(totals['buffers'])}, "
        f"MACs {grouped(totals['macs'])}, FLOPs {grouped(totals['flops'])}, "
        f"activations {grouped(totals['activations'])} elements"
    )
    return "\n".join(lines)


def _markdown_number(value: Value) -> str:
    value = as_plain(value)
    return grouped(value) if isinstance(value, int) else f"`{value}`"


def to_markdown(report: Report) -> str:
    rows = _rows(report, _markdown_number)
    header = "| " + " | ".join(_COLUMNS) + " |"
    align = "|" + "|".join(" ---: " if i >= 3 else " --- " for i in range(len(_COLUMNS))) + "|"
    body = ["| " + " | ".join(f"`{c}`" if i == 2 and c else c for i, c in enumerate(row)) + " |" for row in rows[:-1]]
    last = rows[-1]
    body.append("| **total** | | | " + " | ".join(f"**{c}**" for c in last[3:]) + " |")
    return "\n".join([f"**{report.name}**", "", header, align, *body])


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "type", "input_shapes", "output_shapes", "params", "buffers", "macs", "flops"])
    for row in report.layers:
        writer.writerow(
            [
                row.name,
                row.type,
                shapes_text(row.input_shapes),
                shapes_text(row.output_shapes),
                *(str(as_plain(v)) for v in (row.params, row.buffers, row.macs, row.flops)),
            ]
        )
    t = report.totals
    writer.writerow(["total", "", "", "", *(str(as_plain(t[k])) for k in ("params", "buffers", "macs", "flops"))])
    return buffer.getvalue().rstrip("\n")
