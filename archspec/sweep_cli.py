"""The `archspec sweep` command: axes from the command line, evaluated chunk by chunk into
one sink (a file, standard output, the table's top points, the Pareto front, the plot).

Bounded before work starts: the point count is known up front and refused over
`--max-points`; output paths and the plot backend are checked first. Bounded while it runs:
a chunk of points at a time, columnar from the evaluator to the writer; the table keeps its
top K points, the Pareto front only its front. A file is written beside its target and
renamed into place when complete, so a failed or interrupted run leaves the previous file
intact; Ctrl-C ends with exit status 130 and says how many points were done.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import os
import sys
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

from archspec.sweeps import Chunk, Plan, ProgressLine, SweepError, grid_axis, mark_pareto, point_count, points_of, range_axis, where

EXIT_INTERRUPTED = 130
MAX_PLOT_POINTS = 1_000_000  # every plotted point is held in memory
FILE_SUFFIXES = (".csv", ".jsonl", ".parquet")


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
    if args.sort and args.sort not in metrics:
        raise SweepError(f"--sort {args.sort} is not among the swept metrics ({', '.join(metrics)})")
    out = Path(args.out) if args.out else None
    if out is not None:
        _check_output(out, FILE_SUFFIXES, "--out")
        if out.suffix == ".parquet":
            _require("pyarrow", "Parquet output needs pyarrow: pip install pyarrow")
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        _check_output(plot, (".png", ".svg", ".pdf"), "--plot")
        _require("matplotlib", "--plot needs matplotlib: pip install matplotlib")
    total = point_count(axes, args.random)
    if total > args.max_points:
        raise SweepError(
            f"the sweep has {total:,} points, over the limit of {args.max_points:,}; sample it (--random N) or raise "
            "--max-points"
        )
    if plot is not None and total > MAX_PLOT_POINTS:
        raise SweepError(f"--plot draws at most {MAX_PLOT_POINTS:,} points; the sweep has {total:,} (sample it with --random N)")
    workers = _workers(args.workers)

    start = time.perf_counter()
    from archspec.cli import _layout, _memory_options

    memory = replace(_memory_options(args), layout=_layout(args))
    progress = ProgressLine(total, sys.stderr.isatty())
    plan = Plan(args.spec, axes, metrics, bindings, workers, progress=progress, memory=memory, executor=args.executor,
                scheduler=args.scheduler)
    names = [a.name for a in axes]
    points = points_of(axes, args.random, args.seed, plan.integer_axes)
    sink = _sink(args, out, names, metrics, pareto)
    plotted: list[dict[str, Any]] | None = [] if plot is not None else None
    done = valid = 0
    try:
        for chunk in plan.chunks(points):
            done += len(chunk.errors)
            mask = _kept(chunk, keep, metrics)
            valid += chunk.errors.count("") if keep is None else sum(1 for ok, e in zip(mask, chunk.errors) if ok and not e)
            sink.add(chunk, mask)
            if plotted is not None:
                plotted.extend(r for r, ok in zip(chunk.rows(), mask) if ok)
        progress.finish()
        sink.close()
    except KeyboardInterrupt:
        progress.finish()
        sink.abandon()
        kept = f"; {out} was not written (a previous file is intact)" if out is not None else ""
        print(f"interrupted after {done:,} of {total:,} points{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException:
        sink.abandon()
        raise
    finally:
        plan.close()
    seconds = time.perf_counter() - start
    summary = f"{done:,} points ({valid:,} kept and valid), {plan.method} evaluation, {seconds:.2f} s"
    print(summary, file=sys.stderr)
    sink.show(valid)
    if plot is not None:
        from archspec.plot import plot_sweep

        if pareto is not None:
            mark_pareto(plotted, *pareto)
        _atomic(plot, lambda path: plot_sweep(plotted, names, metrics, pareto, path, title=Path(args.spec).stem,
                                                  dpi=args.dpi))
    return 0


# ---- checks before the work ----------------------------------------------------------
def _check_output(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """The target is a file with a known suffix in an existing, writable folder."""
    if path.suffix not in suffixes:
        raise SweepError(f"{option} {path}: write to a {', '.join(suffixes[:-1])} or {suffixes[-1]} file")
    if path.is_dir():
        raise SweepError(f"{option} {path} is a directory; name a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SweepError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SweepError(f"{option} {path}: the folder {folder} is not writable")


def _require(module: str, hint: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise SweepError(hint)


def _workers(requested: int | None) -> int:
    """At most the cores there are: more processes than cores only wait for each other."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested is None:
        return cores
    if requested > cores:
        print(f"note: --workers {requested} capped at the {cores} cores available", file=sys.stderr)
    return min(requested, cores)


def _pareto_metrics(text: str | None, metrics: list[str]) -> tuple[str, str] | None:
    if text is None:
        return None
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    if len(chosen) != 2 or any(m not in metrics for m in chosen):
        raise SweepError(f"--pareto takes two of the swept metrics ({', '.join(metrics)}), found {text!r}")
    return chosen[0], chosen[1]


def _kept(chunk: Chunk, keep, metrics: list[str]) -> list[bool]:
    """Which points of the chunk pass --where (invalid points pass: they are reported)."""
    count = len(chunk.errors)
    if keep is None:
        return [True] * count
    return [bool(error) or keep(row) for row, error in zip(_metric_rows(chunk, metrics), chunk.errors)]


def _metric_rows(chunk: Chunk, metrics: list[str]) -> Iterator[dict[str, Any]]:
    columns = [_plain_list(chunk.columns[m]) for m in metrics]
    for values in zip(*columns):
        yield dict(zip(metrics, values))


def _plain_list(column) -> list:
    return column.tolist() if hasattr(column, "tolist") else list(column)


# ---- sinks: where the points go ---------------------------------------------------------
def _sink(args, out: Path | None, names: list[str], metrics: list[str], pareto):
    if out is not None:
        return _FileSink(out, names, metrics, pareto)
    if args.format in ("csv", "jsonl"):
        return _StreamSink(sys.stdout, args.format, names, metrics, pareto)
    return _TableSink(names, metrics, pareto, args.sort or metrics[0], args.top)


class _Front:
    """The running Pareto front of two metrics over every kept, valid point (bounded by the front)."""

    def __init__(self, first: str, second: str):
        self.first, self.second, self.rows = first, second, []

    def add(self, rows: list[dict[str, Any]]) -> None:
        candidates = self.rows + [r for r in rows if not r["error"]]
        mark_pareto(candidates, self.first, self.second)
        self.rows = [r for r in candidates if r["pareto"]]

    def keys(self) -> set[tuple]:
        return {_row_key(r) for r in self.rows}


def _row_key(row: dict[str, Any]) -> tuple:
    return tuple(v for k, v in row.items() if k not in ("pareto", "error"))


class _TableSink:
    """The K smallest points by one metric (or the Pareto front's), and how many were valid."""

    def __init__(self, names, metrics, pareto, key: str, top: int):
        self.names, self.metrics, self.key, self.top = names, metrics, key, top
        self.front = _Front(*pareto) if pareto else None
        self.best: list[tuple] = []  # heap of (-value, order, row): the K smallest so far
        self.order = 0

    def add(self, chunk: Chunk, mask: list[bool]) -> None:
        rows = [r for r, ok in zip(chunk.rows(), mask) if ok]
        if self.front is not None:
            self.front.add(rows)
            return
        for row in rows:
            if row["error"]:
                continue
            self.order += 1
            item = (-row[self.key], -self.order, row)
            if len(self.best) < self.top:
                heapq.heappush(self.best, item)
            elif item > self.best[0]:
                heapq.heapreplace(self.best, item)

    def close(self) -> None:
        pass

    def abandon(self) -> None:
        pass

    def show(self, valid: int) -> None:
        if self.front is not None:
            shown = sorted(self.front.rows, key=lambda r: r[self.key])[: self.top]
            scope = "Pareto points"
        else:
            shown = [item[2] for item in sorted(self.best, key=lambda item: (-item[0], -item[1]))]
            scope = "points"
        print(_table(shown, self.names, self.metrics, self.key, valid, scope, pareto=self.front is not None))


class _StreamSink:
    """CSV or JSONL to standard output as points arrive; with --pareto, the front at the end."""

    def __init__(self, handle, format: str, names, metrics, pareto):
        self.handle, self.format = handle, format
        self.writer = _ChunkWriter(handle, format, names, metrics)
        self.front = _Front(*pareto) if pareto else None

    def add(self, chunk: Chunk, mask: list[bool]) -> None:
        if self.front is not None:
            self.front.add([r for r, ok in zip(chunk.rows(), mask) if ok])
        else:
            self.writer.write(chunk, mask)

    def close(self) -> None:
        if self.front is not None:
            self.writer.write_rows(sorted(self.front.rows, key=lambda r: r[self.front.first]), pareto=True)
        self.handle.flush()

    def abandon(self) -> None:
        pass

    def show(self, valid: int) -> None:
        pass


class _FileSink:
    """Every kept point to a file, written beside the target and renamed into place when
    complete; with --pareto, a second pass over that file marks the front."""

    def __init__(self, out: Path, names, metrics, pareto):
        self.out, self.names, self.metrics = out, names, metrics
        self.temp = out.with_name(f".{out.name}.{os.getpid()}.partial")
        self.front = _Front(*pareto) if pareto else None
        self.existed = out.exists()
        try:
            self.handle = None if out.suffix == ".parquet" else self.temp.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise SweepError(f"--out {out}: cannot write: {exc.strerror}") from None
        self.writer = (_ParquetWriter(self.temp, names, metrics) if out.suffix == ".parquet"
                       else _ChunkWriter(self.handle, out.suffix[1:], names, metrics))

    def add(self, chunk: Chunk, mask: list[bool]) -> None:
        try:
            self.writer.write(chunk, mask)
        except OSError as exc:
            raise SweepError(f"--out {self.out}: writing failed: {exc.strerror}") from None
        if self.front is not None:
            self.front.add([r for r, ok in zip(chunk.rows(), mask) if ok])

    def close(self) -> None:
        try:
            self.writer.close()
            if self.handle is not None:
                self.handle.close()
            if self.front is not None:
                self._mark_front()
            os.replace(self.temp, self.out)
        except OSError as exc:
            self.abandon()
            raise SweepError(f"--out {self.out}: writing failed: {exc.strerror}") from None

    def _mark_front(self) -> None:
        """Add the pareto column: stream the written file into a second one."""
        keys = self.front.keys()
        marked = self.temp.with_suffix(".pareto")
        if self.out.suffix == ".parquet":
            import pyarrow
            import pyarrow.parquet as pq

            table = pq.read_table(self.temp)
            flags = [_row_key(r) in keys and not r["error"] for r in table.to_pylist()]
            pq.write_table(table.append_column("pareto", pyarrow.array(flags)), marked)
        elif self.out.suffix == ".jsonl":
            with self.temp.open(encoding="utf-8") as source, marked.open("w", encoding="utf-8") as target:
                for line in source:
                    row = json.loads(line)
                    row["pareto"] = not row["error"] and _row_key(row) in keys
                    target.write(json.dumps(row) + "\n")
        else:
            with self.temp.open(newline="", encoding="utf-8") as source, marked.open("w", newline="", encoding="utf-8") as target:
                reader = csv.reader(source)
                header = next(reader, None)
                if header is None:
                    return
                target.write(",".join(header + ["pareto"]) + "\n")
                front = {tuple(_csv_value(v) for v in key) for key in keys}
                for cells in reader:
                    key = tuple(cells[: len(self.names) + len(self.metrics)])
                    flag = not cells[-1] and key in front
                    target.write(_csv_line(cells + ["True" if flag else "False"]) + "\n")
        os.replace(marked, self.temp)

    def abandon(self) -> None:
        for path in (self.temp, self.temp.with_suffix(".pareto")):
            try:
                if self.handle is not None and not self.handle.closed:
                    self.handle.close()
                path.unlink(missing_ok=True)
            except OSError:
                pass

    def show(self, valid: int) -> None:
        verb = "replaced" if self.existed else "wrote"
        print(f"{verb} {self.out}", file=sys.stderr)


# ---- writers: columns to text -------------------------------------------------------
_UNSAFE_LEAD = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting with these


def _csv_value(value: Any) -> str:
    """One cell's text: numbers as they are, Fractions as decimals, None empty."""
    if value is None:
        return ""
    if isinstance(value, Fraction):
        return repr(float(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _text_cell(text: str) -> str:
    """A text cell safe in a spreadsheet (no formula) and in CSV (quoted when needed)."""
    if text.startswith(_UNSAFE_LEAD):
        text = "'" + text
    if any(c in text for c in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _csv_line(cells: list[str]) -> str:
    return ",".join(cells)


TEXT_PIECE = 20_000  # rows turned into CSV text at a time: a whole chunk's text is tens of MB


class _ChunkWriter:
    """CSV or JSONL from a chunk's columns; metrics of invalid points are empty (null)."""

    def __init__(self, handle, format: str, names: list[str], metrics: list[str]):
        self.handle, self.format, self.names, self.metrics = handle, format, names, metrics
        self.header = False

    def write(self, chunk: Chunk, mask: list[bool]) -> None:
        errors = chunk.errors
        if self.format == "jsonl":
            columns = [self._column(chunk, name, name in self.metrics) for name in [*self.names, *self.metrics]]
            keys = [*self.names, *self.metrics, "error"]
            rows = (dict(zip(keys, (*values, error))) for values, error, ok in zip(zip(*columns), errors, mask) if ok)
            self.handle.write("".join(json.dumps(row) + "\n" for row in rows))
            return
        if not self.header:
            self.handle.write(",".join([*self.names, *self.metrics, "error"]) + "\n")
            self.header = True
        for start in range(0, len(errors), TEXT_PIECE):
            piece = slice(start, start + TEXT_PIECE)
            kept = mask[piece]
            texts = [_column_texts(chunk.columns[name][piece], errors[piece], name in self.metrics)
                     for name in [*self.names, *self.metrics]]
            rows = zip(*texts, (_text_cell(error) if error else "" for error in errors[piece]))
            if not all(kept):
                rows = (row for row, ok in zip(rows, kept) if ok)
            text = "\n".join(map(",".join, rows))
            if text:
                self.handle.write(text + "\n")

    def write_rows(self, rows: list[dict[str, Any]], pareto: bool = False) -> None:
        """Rows already as dicts (the Pareto front at the end of a stream)."""
        keys = [*self.names, *self.metrics, "error"] + (["pareto"] if pareto else [])
        if self.format == "jsonl":
            self.handle.write("".join(json.dumps({k: _json_value(r.get(k)) for k in keys}) + "\n" for r in rows))
            return
        self.handle.write(",".join(keys) + "\n")
        for r in rows:
            self.handle.write(",".join(_text_cell(_csv_value(r.get(k))) if k == "error" else _csv_value(r.get(k)) for k in keys) + "\n")

    def close(self) -> None:
        pass

    @staticmethod
    def _column(chunk: Chunk, name: str, is_metric: bool) -> list:
        """A column as a list: metrics of invalid points None, Fractions as floats."""
        values = _plain_list(chunk.columns[name])
        if is_metric:
            values = [None if error else v for v, error in zip(values, chunk.errors)]
        elif values and isinstance(values[0], Fraction):
            values = [_json_value(v) for v in values]
        return values



def _column_texts(column, errors: list[str], is_metric: bool) -> list[str]:
    """A column's CSV cells: integer columns straight through str (the common, fast case);
    metrics of invalid points empty; Fractions as decimals."""
    values = _plain_list(column)
    invalid = is_metric and any(errors)
    kind = getattr(column, "dtype", None)
    if not invalid and ((kind is not None and kind.kind in "iu") or all(type(v) is int for v in values)):
        return list(map(str, values))
    if invalid:
        values = [None if error else v for v, error in zip(values, errors)]
    return [_csv_value(v) for v in values]


def _json_value(value: Any) -> Any:
    return float(value) if isinstance(value, Fraction) else value


class _ParquetWriter:
    """Columns straight to a Parquet file (pyarrow), one row group per chunk. A column is int64
    while its values fit, else decimal(38, 0), else text (exact counts of large models pass
    2^63); when a chunk needs a wider type than the file has, the file is rewritten with it."""

    def __init__(self, path: Path, names: list[str], metrics: list[str]):
        self.path, self.names, self.metrics, self.writer = path, names, metrics, None

    def write(self, chunk: Chunk, mask: list[bool]) -> None:
        import pyarrow

        keep = [i for i, ok in enumerate(mask) if ok]
        data = {}
        for name in [*self.names, *self.metrics]:
            values = _plain_list(chunk.columns[name])
            if name in self.metrics:
                values = [None if chunk.errors[i] else values[i] for i in keep]
            else:
                values = [_json_value(values[i]) for i in keep]
            data[name] = _arrow_array(values)
        data["error"] = pyarrow.array([chunk.errors[i] for i in keep], type=pyarrow.string())
        self._append(pyarrow.table(data))

    def _append(self, table) -> None:
        import pyarrow
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self.writer.schema:
            schema = pyarrow.schema([
                pyarrow.field(name, _wider(self.writer.schema.field(name).type, table.schema.field(name).type))
                for name in table.schema.names
            ])
            if schema != self.writer.schema:  # rewrite what is written with the wider types
                self.writer.close()
                written = pq.read_table(self.path).cast(schema)
                self.writer = pq.ParquetWriter(self.path, schema)
                self.writer.write_table(written)
            table = table.cast(schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        else:
            import pyarrow
            import pyarrow.parquet as pq

            pq.write_table(pyarrow.table({}), self.path)


INT64 = (-(2**63), 2**63 - 1)


def _arrow_array(values: list):
    """A column for Parquet: int64 while the integers fit, decimal(38, 0) up to 38 digits, else text."""
    import pyarrow

    ints = [v for v in values if type(v) is int]
    if not ints or INT64[0] <= min(ints) and max(ints) <= INT64[1]:
        return pyarrow.array(values)
    if all(v is None or type(v) is int for v in values):
        if max(abs(v) for v in ints) < 10**38:
            from decimal import Decimal

            return pyarrow.array([None if v is None else Decimal(v) for v in values], pyarrow.decimal128(38, 0))
    return pyarrow.array([None if v is None else str(v) for v in values], pyarrow.string())


def _wider(a, b):
    """The narrowest Arrow type that holds both a column's earlier values and its new ones."""
    import pyarrow

    if a == b or pyarrow.types.is_null(b):
        return a
    if pyarrow.types.is_null(a):
        return b
    rank = {pyarrow.int64(): 0, pyarrow.float64(): 1, pyarrow.decimal128(38, 0): 1}
    if a in rank and b in rank and {a, b} != {pyarrow.float64(), pyarrow.decimal128(38, 0)}:
        return a if rank[a] >= rank[b] else b
    return pyarrow.string()


def _atomic(path: Path, write) -> None:
    """Write through a temporary file beside `path`, renamed into place when complete."""
    temp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        write(temp)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise SweepError(f"--plot {path}: writing failed: {exc.strerror}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# ---- the table ----------------------------------------------------------------------
def _table(shown, names, metrics, key: str, valid: int, scope: str, pareto: bool) -> str:
    from archspec.formats import human, human_bytes
    from archspec.formula import METRICS

    columns = [*names, *metrics] + (["pareto"] if pareto else [])
    cells = [[_cell(r.get(c), c in metrics, human if c in METRICS else human_bytes) for c in columns] for r in shown]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    lines.append(f"({len(shown)} of {valid:,} valid {scope}, smallest {key} first)")
    return "\n".join(lines)


def _cell(value, is_metric: bool, human) -> str:
    if isinstance(value, bool):
        return "*" if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "-"
    return human(value) if is_metric else str(value)


def _csv_text(rows) -> str:
    """Rows as CSV text (for callers holding rows)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")
