"""Rendering a Report: terminal table, JSON, CSV and Markdown. A thin layer over Report data."""

from __future__ import annotations

import io
import json
import sys

from archspec.dims import Value, as_plain
from archspec.report import Report

FORMATS = ("table", "json", "csv", "markdown")
# archspec.formula renders these; named here so the command line need not import sympy
FORMULA_FORMATS = ("text", "latex", "json", "python")

_UNITS = ((10**24, "Y"), (10**21, "Z"), (10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


BINARY_UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


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
    """A count in decimal units: 950, 1.23 K, 4.11 G (up to Y, 10**24)."""
    return _in_units(value, _UNITS, "")


def human_bytes(value: Value) -> str:
    """Bytes in binary units: 512 B, 1.50 GiB."""
    return _in_units(value, BINARY_UNITS, " B")


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
_ACTIVE_COLUMNS = ("name", "type", "output shape", "params", "active", "MACs", "FLOPs")
SHARE_COLUMN = "% FLOPs"
DOMINANT_SHARE = 10  # a layer with at least this percent of the FLOPs is emphasized on a terminal


def _has_experts(report: Report) -> bool:
    """Whether some params are not active for every token (routed experts): show both columns."""
    return any(row.experts is not None for row in report.layers) or report.totals["active_params"] != report.totals["params"]


def _total_flops(report: Report) -> int | None:
    """The FLOPs the share column divides by: a positive number, else None (no share column:
    a formula's share is no single figure)."""
    total = _fraction_as_float(as_plain(report.totals["flops"]))
    return total if isinstance(total, (int, float)) and total > 0 else None


def _columns(report: Report) -> tuple[str, ...]:
    columns = _ACTIVE_COLUMNS if _has_experts(report) else _COLUMNS
    return (*columns, SHARE_COLUMN) if _total_flops(report) else columns


def _share_text(part: Value, total: float) -> str:
    share = 100 * float(as_plain(part)) / total
    return f"{share:.1f}%" if share >= 0.05 or share == 0 else "<0.1%"


def _rows(report: Report, number) -> list[list[str]]:
    active = _has_experts(report)
    total_flops = _total_flops(report)
    rows = []
    for row in report.layers:
        if row.idle:
            continue  # a decode step: the layer does not run
        counts = [row.params, row.active_params] if active else [row.params]
        share = [_share_text(row.flops, total_flops)] if total_flops else []
        rows.append([_row_name(row), row.type, shapes_text(row.output_shapes), *map(number, [*counts, row.macs, row.flops]), *share])
    totals = report.totals
    counts = [totals["params"], totals["active_params"]] if active else [totals["params"]]
    rows.append(["total", "", "", *map(number, [*counts, totals["macs"], totals["flops"]]), *(["100%"] if total_flops else [])])
    return rows


def _dominant(report: Report) -> frozenset[int]:
    """The table rows (idle layers left out, as in _rows) with at least DOMINANT_SHARE percent of the FLOPs."""
    total_flops = _total_flops(report)
    if not total_flops:
        return frozenset()
    shown = (row for row in report.layers if not row.idle)
    return frozenset(i for i, row in enumerate(shown) if 100 * float(as_plain(row.flops)) >= DOMINANT_SHARE * total_flops)


def _row_name(row) -> str:
    # A row under a repeat whose count is a free symbol stands for that many applications.
    name = row.name if row.times == 1 else f"{row.name} (x{row.times})"
    return f"{name} (shares {row.shares})" if row.shares else name


def summary(report: Report) -> str:
    """The totals line under a table: exact counts."""
    totals = report.totals
    active = f"active params {grouped(totals['active_params'])}, " if _has_experts(report) else ""
    return (
        f"params {grouped(totals['params'])}, {active}buffers {grouped(totals['buffers'])}, "
        f"MACs {grouped(totals['macs'])}, FLOPs {grouped(totals['flops'])}, "
        f"activations {grouped(totals['activations'])} elements"
    )


def headline(report: Report) -> str:
    """The first line of a table: inputs, outputs, and for a decode step what it is."""
    inputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.inputs.items())
    outputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.outputs.items())
    line = f"{report.name}: input {inputs} -> output {outputs}"
    if report.decode:
        idle = sum(1 for row in report.layers if row.idle)
        line += f"\ndecode step: one new token per sequence, P = {report.params.get('P')} tokens cached"
        line += f"; {idle} layers idle (their outputs are cached)" if idle else ""
    return line


def terminal_width() -> int | None:
    """The width tables fit: the terminal's, or COLUMNS when set; None (unbounded) when piped."""
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return max(40, shutil.get_terminal_size((100, 24)).columns)
    return None


def emphasis() -> bool:
    """Bold headers and totals: on a terminal, unless NO_COLOR is set (no-color.org)."""
    import os

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def bold(text: str) -> str:
    return f"\x1b[1m{text}\x1b[0m" if emphasis() else text


FORMULA_CELL = 28  # a formula cell longer than this is cut (archspec formula prints it whole)


def table_blocks(header: list[str], rows: list[list[str]], right: set[int], width: int | None,
                 strong: frozenset[int] = frozenset()) -> list[str]:
    """A table that fits `width`: long formula cells cut, then the columns wrapped into blocks
    that repeat the first column (no column is dropped). The last row is the totals; the rows
    in `strong` are emphasized as it is."""
    if width is not None:
        rows = [[_cut(c) if i in right else c for i, c in enumerate(row)] for row in rows]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    groups, current = [], [0]
    for i in range(1, len(header)):
        span = sum(widths[j] + 2 for j in current) + widths[i]
        if width is not None and span > width and len(current) > 1:
            groups.append(current)
            current = [0]
        current.append(i)
    groups.append(current)
    lines: list[str] = []
    for n, group in enumerate(groups):
        line = lambda cells: "  ".join(  # noqa: E731
            (str(cells[i]).rjust(widths[i]) if i in right else str(cells[i]).ljust(widths[i])) for i in group).rstrip()
        rule = "-" * len(line(header))
        if n:
            lines.append("")
        body = (bold(line(row)) if i in strong else line(row) for i, row in enumerate(rows[:-1]))
        lines += [rule, bold(line(header)), rule, *body, rule, bold(line(rows[-1]))]
    return lines


def _cut(cell: str) -> str:
    return cell if len(cell) <= FORMULA_CELL else cell[: FORMULA_CELL - 1] + "…"


def to_table(report: Report) -> str:
    columns = _columns(report)
    rows = _rows(report, human)
    width = terminal_width()
    table = table_blocks(list(columns), rows, set(range(3, len(columns))), width, _dominant(report))
    lines = [headline(report), *table, summary(report)]
    free = sorted({str(s) for v in report.totals.values() for s in getattr(v, "free_symbols", ())})
    if free and width is not None and any(len(c) > FORMULA_CELL for row in rows for c in row[3:]):
        lines.append(f"(formulas cut to fit; whole: archspec formula SPEC --symbolic {','.join(free)} --per-layer)")
    return "\n".join(lines)


def _markdown_number(value: Value) -> str:
    value = as_plain(value)
    return grouped(value) if isinstance(value, int) else f"`{value}`"


def to_markdown(report: Report) -> str:
    columns = _columns(report)
    rows = _rows(report, _markdown_number)
    header = "| " + " | ".join(columns) + " |"
    align = "|" + "|".join(" ---: " if i >= 3 else " --- " for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(f"`{c}`" if i == 2 and c else c for i, c in enumerate(row)) + " |" for row in rows[:-1]]
    last = rows[-1]
    body.append("| **total** | | | " + " | ".join(f"**{c}**" for c in last[3:]) + " |")
    return "\n".join([f"**{markdown_text(report.name)}**", "", header, align, *body])


def markdown_text(text: str) -> str:
    """Text that stays plain inside Markdown (and a table cell): its markup characters escaped."""
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in text)


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    import csv  # only for --format csv

    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "type", "input_shapes", "output_shapes", "params", "active_params", "buffers", "macs", "flops"])
    for row in report.layers:
        writer.writerow(
            [
                row.name,
                row.type,
                shapes_text(row.input_shapes),
                shapes_text(row.output_shapes),
                *(str(as_plain(v)) for v in (row.params, row.active_params, row.buffers, row.macs, row.flops)),
            ]
        )
    t = report.totals
    writer.writerow(["total", "", "", "", *(str(as_plain(t[k])) for k in ("params", "active_params", "buffers", "macs", "flops"))])
    return buffer.getvalue().rstrip("\n")


def to_html(report: Report) -> str:
    """The per-layer table as HTML for notebooks: one collapsible section per top-level block."""
    from html import escape

    columns = _columns(report)
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    groups: list[tuple[str, list[list[str]]]] = []
    rows = _rows(report, human)
    for row, cells in zip([r for r in report.layers if not r.idle], rows[:-1]):
        key = row.path[0] if row.path else row.name
        if not groups or groups[-1][0] != key:
            groups.append((key, []))
        groups[-1][1].append(cells)

    def table(body: list[list[str]]) -> str:
        lines = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>" for cells in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"

    parts = [f"<p><b>{escape(report.name)}</b>: {escape(summary(report))}</p>"]
    loose: list[list[str]] = []  # consecutive single layers: one table, not one table each
    for key, body in groups:
        if len(body) == 1:
            loose += body
            continue
        if loose:
            parts.append(table(loose))
            loose = []
        parts.append(f"<details><summary>{escape(key)} ({len(body)} layers)</summary>{table(body)}</details>")
    if loose:
        parts.append(table(loose))
    return "\n".join(parts)


def to_records(report: Report) -> list[dict[str, object]]:
    """One record per layer: the columns of a DataFrame (exact ints, or formula strings)."""
    records = []
    for row in report.layers:
        records.append({
            "name": row.name, "type": row.type, "times": as_plain(row.times),
            "input_shapes": shapes_text(row.input_shapes), "output_shapes": shapes_text(row.output_shapes),
            **{key: _record_value(getattr(row, key)) for key in ("params", "active_params", "buffers", "macs", "flops")},
        })
    return records


def _record_value(value: Value) -> object:
    value = as_plain(value)
    return value if isinstance(value, int) else str(value)
