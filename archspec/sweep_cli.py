"""The `archspec sweep` command: axes from the command line, streamed output, table, Pareto, plot."""

from __future__ import annotations

import csv
from dataclasses import replace
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from archspec.sweeps import Plan, SweepError, grid_axis, mark_pareto, points_of, range_axis, where


def run_sweep(args, bindings: dict[str, Any]) -> int:
    """Run a sweep from parsed CLI arguments; returns the exit code."""
    axes = [grid_axis(text) for text in args.grid] + [range_axis(text) for text in args.ranges]
    if not axes:
        raise SweepError("give at least one axis: --grid NAME=VALUES or --range NAME=LOW:HIGH (with --random N)")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise SweepError(f"--metrics {args.metrics!r} names no metric; e.g. --metrics params,macs")
    keep = where(args.where, metrics) if args.where else None
    pareto = _pareto_metrics(args.pareto, metrics)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in (".csv", ".jsonl"):
        raise SweepError(f"--out {out}: write to a .csv or .jsonl file")
    if args.sort and args.sort not in metrics:
        raise SweepError(f"--sort {args.sort} is not among the swept metrics ({', '.join(metrics)})")
    if args.plot and Path(args.plot).suffix not in (".png", ".svg"):
        raise SweepError(f"--plot {args.plot}: draw to a .png or .svg file")

    start = time.perf_counter()
    from archspec.cli import _layout, _memory_options

    memory = replace(_memory_options(args), layout=_layout(args))
    plan = Plan(args.spec, axes, metrics, bindings, args.workers, progress=sys.stderr.isatty(), memory=memory)
    names = [a.name for a in axes]
    points = points_of(axes, args.random, args.seed, plan.integer_axes)
    keep_all = pareto is not None or args.plot or out is None  # the table, the front and the plot need every row
    rows: list[dict[str, Any]] = []
    count = valid = 0
    stream = out.open("w", newline="", encoding="utf-8") if out is not None and pareto is None else None
    writer = None
    for chunk in plan.chunks(points):
        chunk_rows = [r for r in chunk.rows() if keep is None or keep(r)]
        count += len(chunk.errors)
        valid += sum(1 for r in chunk_rows if not r["error"])
        if stream is not None:
            writer = _write(stream, out.suffix, chunk_rows, writer)
        if keep_all:
            rows.extend(chunk_rows)
    if pareto is not None:
        mark_pareto(rows, *pareto)
        if out is not None:
            with out.open("w", newline="", encoding="utf-8") as handle:
                _write(handle, out.suffix, rows, None)
    if stream is not None:
        stream.close()
    seconds = time.perf_counter() - start
    summary = f"{count:,} points ({valid:,} kept and valid), {plan.method} evaluation, {seconds:.2f} s"
    print(summary, file=sys.stderr)
    if out is None:
        text = {"table": _table, "csv": _csv_text, "jsonl": _jsonl_text}[args.format](rows, names, metrics, args)
        print(text)
    if args.plot:
        from archspec.plot import plot_sweep

        plot_sweep(rows, names, metrics, pareto, Path(args.plot), title=f"{Path(args.spec).stem}: {summary}")
    return 0


def _pareto_metrics(text: str | None, metrics: list[str]) -> tuple[str, str] | None:
    if text is None:
        return None
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    if len(chosen) != 2 or any(m not in metrics for m in chosen):
        raise SweepError(f"--pareto takes two of the swept metrics ({', '.join(metrics)}), found {text!r}")
    return chosen[0], chosen[1]


def _write(handle, suffix: str, rows: list[dict[str, Any]], writer):
    if suffix == ".jsonl":
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        return writer
    if writer is None and rows:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
    if writer is not None:
        writer.writerows(rows)
    return writer


def _csv_text(rows, names, metrics, args) -> str:
    buffer = io.StringIO()
    _write(buffer, ".csv", rows, None)
    return buffer.getvalue().rstrip("\n")


def _jsonl_text(rows, names, metrics, args) -> str:
    return "\n".join(json.dumps(row) for row in rows)


def _table(rows, names, metrics, args) -> str:
    from archspec.formats import human, human_bytes
    from archspec.formula import METRICS

    key = args.sort or metrics[0]
    good = sorted((r for r in rows if not r["error"]), key=lambda r: r[key])
    shown = [r for r in good if r.get("pareto")] if "pareto" in (rows[0] if rows else {}) else good
    shown = shown[: args.top]
    columns = [*names, *metrics] + (["pareto"] if rows and "pareto" in rows[0] else [])
    cells = [[_cell(r[c], c in metrics, human if c in METRICS else human_bytes) for c in columns] for r in shown]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    scope = "Pareto points" if shown and "pareto" in rows[0] else "points"
    lines.append(f"({len(shown)} of {len(good):,} valid {scope}, smallest {key} first)")
    return "\n".join(lines)


def _cell(value, is_metric: bool, human) -> str:
    if isinstance(value, bool):
        return "*" if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    return human(value) if is_metric else str(value)
