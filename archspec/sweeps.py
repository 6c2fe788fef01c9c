"""Design-space sweeps: many values of some params, evaluated from one analysis where possible.

    axes = [grid_axis("width=32,48,64"), grid_axis("H=128..512:32")]
    table = sweep("specs/resnet50.yaml", axes, metrics=("params", "macs"))

Three ways to evaluate, chosen per sweep and reported in `Sweep.method`:

- vectorized: one analysis with every swept param free, its formulas turned into numpy
  functions and evaluated on all points at once (sizes: batch, resolution, width, depth
  of a shape-preserving repeat);
- grouped: params that change the structure (a width multiplier rounded by
  make_divisible, a comparison) are bound per group of points; the size params stay free
  within a group, so each group costs one analysis;
- per-point: one analysis per point, when nothing can stay free.

A point where the network is invalid (a dimension below 1) gets no counts and an `error`.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

from archspec.errors import ArchspecError
from archspec.formula import METRICS, FormulaError, parse_budget

CHUNK = 100_000  # points evaluated (and written) at a time: memory stays bounded


class SweepError(ArchspecError):
    """A sweep request that cannot run (a bad axis, an unknown metric); raised before any work."""


Number = int | Fraction


@dataclass(frozen=True)
class Axis:
    """One swept param: explicit values, or a range to sample from (`low`, `high`)."""

    name: str
    values: Sequence[Number] = ()  # a tuple, or a range (never expanded: 1..10**9 costs nothing)
    low: Number | None = None
    high: Number | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def extremes(self) -> tuple[Number, ...]:
        """The smallest and largest values (or the range's ends), without expanding a range."""
        if self.is_range:
            return (self.low, self.high)
        if isinstance(self.values, range):
            return (self.values[0], self.values[-1])
        return (min(self.values), max(self.values))


def _number(text: str, axis: str) -> Number:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise SweepError(f"axis {axis}: {text.strip()!r} is not a number") from None
    return int(value) if value.denominator == 1 else value


def grid_axis(text: str) -> Axis:
    """`name=1,2,3` or `name=a..b` or `name=a..b:step` (integers, both ends included)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise SweepError(f"axis {text!r}: write NAME=v1,v2,... or NAME=a..b or NAME=a..b:step")
    match = re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\d+)\s*)?", spec)
    if match:
        low, high, step = int(match[1]), int(match[2]), int(match[3] or 1)
        if step < 1:
            raise SweepError(f"axis {name}: the step must be at least 1, found {step}")
        values = range(low, high + 1, step)
        if not values:
            raise SweepError(f"axis {name}: the range {low}..{high} is empty")
        return Axis(name, values)
    values = tuple(_number(item, name) for item in spec.split(",") if item.strip())
    if not values:
        raise SweepError(f"axis {name}: no values")
    return Axis(name, values)


def range_axis(text: str) -> Axis:
    """`name=low:high`, sampled uniformly (integers if both ends are integers)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    low_text, colon, high_text = spec.partition(":")
    if not sep or not name or not colon:
        raise SweepError(f"axis {text!r}: write NAME=low:high, e.g. width_mult=0.5:2.0")
    low, high = _number(low_text, name), _number(high_text, name)
    if low > high:
        raise SweepError(f"axis {name}: the range {low}:{high} is empty")
    return Axis(name, low=low, high=high)


def points_of(
    axes: list[Axis], samples: int | None, seed: int, integer: frozenset[str] = frozenset()
) -> Iterator[tuple[Number, ...]]:
    """The full grid of the axes' values, or `samples` random points (ranges and lists mixed);
    a range over a param in `integer` yields integers, any other range decimals."""
    if samples is None:
        if any(axis.is_range for axis in axes):
            raise SweepError("a range axis (--range) needs --random N")
        pools = [axis.values for axis in axes]
        if max(len(pool) for pool in pools) <= 1_000_000:
            yield from itertools.product(*pools)  # copies each pool: small ones only
        else:
            yield from _lazy_product(pools)
        return
    rng = random.Random(seed)
    for _ in range(samples):
        yield tuple(_sample(axis, rng, axis.name in integer) for axis in axes)


def point_count(axes: list[Axis], samples: int | None) -> int:
    """How many points a sweep evaluates, known before any work."""
    if samples is not None:
        return samples
    return math.prod(len(axis.values) for axis in axes if not axis.is_range)


def _lazy_product(pools: list[Sequence[Number]]) -> Iterator[tuple[Number, ...]]:
    """The cartesian product without copying each pool (itertools.product would expand a range)."""
    if not pools:
        yield ()
        return
    first, rest = pools[0], pools[1:]
    for value in first:
        for tail in _lazy_product(rest):
            yield (value, *tail)


def _sample(axis: Axis, rng: random.Random, integer: bool) -> Number:
    if not axis.is_range:
        return rng.choice(axis.values)
    if integer:
        return rng.randint(math.ceil(axis.low), math.floor(axis.high))
    # Three decimals: exact values that read well in a table (0.731, not 0.7310987...).
    value = Fraction(round(rng.uniform(float(axis.low), float(axis.high)), 3)).limit_denominator(1000)
    return min(max(value, Fraction(axis.low)), Fraction(axis.high))


@dataclass
class Chunk:
    """Evaluated points as columns: each axis and metric, and an error per point ('' if none)."""

    columns: dict[str, Any]  # name -> numpy array or list, one entry per point
    errors: list[str]

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        values = [c.tolist() if hasattr(c, "tolist") else list(c) for c in self.columns.values()]
        rows = []
        for i, error in enumerate(self.errors):
            # Fractions (a sampled width multiplier, 0.731) read as decimals.
            row = {name: float(column[i]) if isinstance(column[i], Fraction) else column[i] for name, column in zip(names, values)}
            if error:
                row.update({name: None for name in names[self.axis_count :]})
            row["error"] = error
            rows.append(row)
        return rows

    _axes: int = 0  # the first _axes columns are axis values; the rest, metrics

    @property
    def axis_count(self) -> int:
        return self._axes


@dataclass
class Sweep:
    """The evaluated points: a list of dicts (axis values, metrics, error), and how they were computed."""

    axes: list[str]
    metrics: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""

    def to_pandas(self):
        """The rows as a pandas DataFrame (pandas is optional: pip install pandas)."""
        try:
            import pandas
        except ImportError:
            raise ArchspecError("Sweep.to_pandas needs pandas: pip install pandas") from None
        return pandas.DataFrame(self.rows)

    def __repr__(self) -> str:
        errors = sum(1 for row in self.rows if row.get("error"))
        return (f"<Sweep: {len(self.rows):,} points over {', '.join(self.axes)}; metrics {', '.join(self.metrics)}; "
                f"{self.method} evaluation" + (f"; {errors:,} invalid>" if errors else ">"))

    def _repr_html_(self) -> str:
        from html import escape

        shown = self.rows[:20]
        keys = [*self.axes, *self.metrics, "error"]
        head = "".join(f"<th>{escape(k)}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>" for r in shown)
        more = f"<p>... {len(self.rows) - len(shown):,} more points (Sweep.to_pandas())</p>" if len(self.rows) > len(shown) else ""
        return f"<p>{escape(repr(self))}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


LAYOUT_AXES = ("dp", "tp", "pp", "cp", "ep", "microbatches")  # axes of a parallel layout, not of the spec


def memory_metrics() -> tuple[str, ...]:
    from archspec.memory import DECODE_KEYS, KEYS

    return ("memory", *(key for key in (*KEYS, *DECODE_KEYS) if key not in METRICS))


def check_request(spec_params: dict[str, Any], axes: list[Axis], metrics: Iterable[str], memory: bool = False) -> None:
    """Fail before any work on an unknown param or metric, a repeated axis or a fraction for an integer param."""
    from archspec.errors import did_you_mean

    seen = set()
    known_metrics = (*METRICS, *memory_metrics())
    for axis in axes:
        if axis.name in LAYOUT_AXES and axis.name not in spec_params:
            if not memory:
                raise SweepError(f"axis {axis.name} is a parallel layout size: sweep a memory metric with it (--metrics training_total)")
            if axis.is_range or any(isinstance(v, Fraction) for v in axis.values[:1000]) or min(axis.extremes()) < 1:
                raise SweepError(f"axis {axis.name}: layout sizes are whole numbers of at least 1 (a grid)")
            seen.add(axis.name)
            continue
        if axis.name not in spec_params:
            known = ", ".join(spec_params) or "none"
            raise SweepError(f"axis {axis.name}: not a param of the spec{did_you_mean(axis.name, spec_params)} (params: {known})")
        if axis.name in seen:
            raise SweepError(f"axis {axis.name} is given twice")
        seen.add(axis.name)
        default = spec_params[axis.name]
        huge = [v for v in axis.extremes() if abs(v) >= 2**62]
        if huge:
            raise SweepError(f"axis {axis.name}: {huge[0]} is beyond the largest value a sweep takes (2**62)")
        fractional = [v for v in (*axis.extremes(), *(() if isinstance(axis.values, range) else axis.values)) if isinstance(v, Fraction)]
        if fractional and not isinstance(default, Fraction):
            raise SweepError(f"axis {axis.name}: {fractional[0]} is not an integer, and the param is an integer ({default})")
    for metric in metrics:
        if metric not in known_metrics:
            raise SweepError(f"unknown metric {metric!r}; choose from {', '.join(known_metrics)}")


def sweep(
    spec: Any,
    grid: dict[str, Any] | None = None,
    metrics: Iterable[str] = ("params", "macs", "flops"),
    *,
    ranges: dict[str, tuple[Any, Any]] | None = None,
    samples: int | None = None,
    seed: int = 0,
    axes: list[Axis] | None = None,
    bindings: dict[str, Any] | None = None,
    workers: int | None = None,
    progress: bool = False,
    memory: Any = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> Sweep:
    """Evaluate `metrics` at every point of a grid, or at `samples` random points.

    Memory components are metrics too, under `memory` (archspec.memory.MemoryOptions, with
    a layout for per-device figures); axes named tp, pp, dp, cp, ep or microbatches sweep
    the layout.

    `grid` maps params to values (a list, or a string such as "1..6" or "128..512:32");
    `ranges` maps params to (low, high) for random sampling.
    """
    axes = list(axes or [])
    for name, values in (grid or {}).items():
        text = values if isinstance(values, str) else ",".join(str(v) for v in values)
        axes.append(grid_axis(f"{name}={text}"))
    for name, (low, high) in (ranges or {}).items():
        axes.append(range_axis(f"{name}={low}:{high}"))
    if not axes:
        raise SweepError("give at least one axis (grid or ranges)")
    line = ProgressLine(point_count(axes, samples)) if progress else None
    plan = Plan(spec, axes, list(metrics), bindings, workers, line, memory=memory, executor=executor, scheduler=scheduler)
    result = Sweep([a.name for a in axes], list(metrics), method=plan.method)
    try:
        for chunk in plan.chunks(points_of(axes, samples, seed, plan.integer_axes)):
            result.rows.extend(chunk.rows())
    finally:
        plan.close()
        if line is not None:
            line.finish()
    return result


class ProgressLine:
    """A progress line with rate and ETA on standard error, once a sweep has run over a second."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.enabled, self.start, self.shown = total, enabled, time.perf_counter(), False

    def update(self, done: int) -> None:
        elapsed = time.perf_counter() - self.start
        if not self.enabled or elapsed < 1 or done >= self.total:
            return
        rate = done / elapsed
        eta = (self.total - done) / rate if rate else math.inf
        print(f"\r{done:,}/{self.total:,} points, {rate:,.0f}/s, ETA {eta:,.0f} s   ", end="", file=sys.stderr, flush=True)
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False


class Plan:
    """How a sweep is evaluated (see the module docstring), prepared once for all its points."""

    def __init__(self, spec, axes, metrics, bindings=None, workers=None, progress=None, memory=None, executor="local",
                 scheduler=None):
        from archspec.engine import analyze
        from archspec.memory import MemoryOptions
        from archspec.spec import validate

        spec = validate(spec)  # once: every analysis of the sweep reuses the validated spec
        model, source = spec
        wants_memory = any(m not in METRICS for m in metrics)
        check_request(model.spec.params, axes, metrics, memory=wants_memory)
        self.memory = (memory or MemoryOptions()) if wants_memory else None
        layout_axes = [a.name for a in axes if a.name in LAYOUT_AXES and a.name not in model.spec.params]
        self.integer_axes = frozenset(
            a.name for a in axes if a.name in layout_axes or not isinstance(model.spec.params[a.name], Fraction)
        )
        # a ProgressLine, updated after each chunk and, in a structural sweep, after each structure
        self.spec, self.metrics, self.progress, self.done = spec, list(metrics), progress, 0
        if executor not in ("local", "dask"):
            raise SweepError(f"executor {executor!r}: choose local (processes on this machine) or dask")
        self.executor, self.scheduler, self._client, self._spec_future = executor, scheduler, None, None
        self.names = [a.name for a in axes]
        self.base = dict(bindings or {})
        both = [name for name in self.names if name in self.base]
        if both:
            raise SweepError(f"{', '.join(both)}: both bound (--set, bindings) and swept (an axis); give each param "
                             "one of the two")
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        # A fractional param (a width multiplier) never stays free: the fast path evaluates integers.
        fractional = [
            a.name
            for a in axes
            if a.name not in self.integer_axes or any(isinstance(v, Fraction) for v in _non_range_values(a))
        ]
        spec_axes = [n for n in self.names if n not in fractional and n not in layout_axes]
        self.sizes, self.structural, free_report = _classify(spec, spec_axes, self.base, self._training)
        self.structural += fractional + layout_axes  # a layout size is bound per group of points
        self.layout_axes = tuple(layout_axes)
        self.method = "vectorized" if not self.structural else "per-point" if not self.sizes else "grouped"
        self.formulas = None
        if self.method == "vectorized":
            # the classifying analysis already had every axis free (the symbolic analysis runs once)
            report = free_report or analyze(spec, **self.base, **{n: None for n in self.names}, training=self._training)
            try:
                self.formulas = Formulas(report, self.names, self.metrics, self.memory)
            except ValueError:  # not an integer formula numpy can evaluate exactly
                self.sizes, self.structural, self.method = [], list(self.names), "per-point"

    def dask_map(self, jobs: list) -> Iterator[list[dict[str, Any]]]:
        """The structures' analyses on a Dask cluster (--scheduler tcp://HOST:PORT, or a local
        cluster of `workers` processes), in order; results stream back as they finish."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError("--executor dask needs Dask: pip install 'archspec-nn[dask]'") from None
        if self._client is None:
            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None)
                self._client = Client(cluster)
        if self._spec_future is None:  # the validated spec crosses the network once, not once per structure
            self._spec_future = self._client.scatter(jobs[0][0], broadcast=True)
        # structures in batches, as the process pool's chunksize: a task costs the scheduler about
        # as much as one small analysis, and here the scheduler shares the cores
        size = max(1, len(jobs) // (8 * self.workers))
        batches = [[job[1:] for job in jobs[i:i + size]] for i in range(0, len(jobs), size)]
        futures = self._client.map(_evaluate_remote, batches, spec=self._spec_future, pure=False)
        for future in futures:  # in order: each chunk's rows are assembled as its points came
            yield from future.result()

    def close(self) -> None:
        """Release a Dask client (and the local cluster it started)."""
        if self._client is not None:
            cluster = self._client.cluster if not self.scheduler else None
            self._client.close()
            if cluster is not None:
                cluster.close()
            self._client, self._spec_future = None, None

    @property
    def _training(self) -> bool:
        return self.memory is not None and self.memory.training

    def chunks(self, points: Iterator[tuple]) -> Iterator[Chunk]:
        while True:
            chunk = [p for _, p in zip(range(CHUNK), points)]
            if not chunk:
                return
            result = self.formulas.evaluate(chunk, self.names) if self.formulas is not None else _grouped(self, chunk)
            self.done += len(chunk)
            if self.progress is not None:
                self.progress.update(self.done)
            yield result


class Formulas:
    """A report's totals (and its validity conditions) as exact vectorized functions of the free params."""

    def __init__(self, report, free: list[str], metrics: list[str], memory=None):
        from archspec.vectorized import exact_function

        self.free, self.metrics = free, metrics
        values = figures(report, metrics, memory)
        self.totals = exact_function(free, [values[m] for m in metrics])
        dims = sorted({d for row in report.layers for shape in row.output_shapes for d in shape if hasattr(d, "free_symbols")}, key=str)
        self.dims = exact_function(free, dims) if dims else None

    def evaluate(self, points: list[tuple], names: list[str]) -> Chunk:
        import numpy

        columns = {n: [p[i] for p in points] for i, n in enumerate(names)}
        args = [numpy.array(columns[n], dtype=numpy.int64) for n in self.free]
        values = self.totals(*args)
        valid = numpy.ones(len(points), dtype=bool)
        if self.dims is not None:
            for dim in self.dims(*args):
                valid &= numpy.broadcast_to(dim >= 1, (len(points),)).astype(bool)
        columns.update(dict(zip(self.metrics, values)))
        error = "a tensor dimension is below 1 (the input is too small for the network)"
        return Chunk(columns, ["" if ok else error for ok in valid.tolist()], len(names))


def figures(report, metrics: list[str], memory=None) -> dict[str, Any]:
    """The metrics of an analyzed point: counts from the report; memory components from the
    memory model (with a layout, the most loaded device's)."""
    values = {m: report.totals[m] for m in metrics if m in METRICS}
    wanted = [m for m in metrics if m not in METRICS]
    if wanted:
        from archspec.memory import memory as memory_of

        result = memory_of(report, memory)
        source = {**result.totals, **(result.decode or {})}
        if result.per_device is not None:
            if result.per_device.most_loaded_stage is None:
                raise ValueError("which stage is the most loaded depends on the free params")  # evaluated per point
            device = result.per_device.devices["most_loaded"]
            source.update({**device, "training_total": device["total"]})
        # `memory`: the total the memory options ask for, to plot against a device's size
        source["memory"] = source["training_total" if memory is None or memory.training else "inference_total"]
        values.update({m: source[m] for m in wanted})
    return values


def _non_range_values(axis: Axis) -> tuple[Number, ...]:
    """Every listed value and the ends; a range's values are integers."""
    listed = () if isinstance(axis.values, range) else tuple(axis.values)
    return (*listed, *(v for v in (axis.low, axis.high) if v is not None))


def _classify(spec, names, base, training: bool = False):
    """Split the axes into size params (may stay free) and structural ones (need numbers); the
    analysis with every axis free too, when there is one (the vectorized path reuses it)."""
    from archspec.engine import analyze

    if not names:
        return [], [], None
    try:
        report = analyze(spec, **base, **{n: None for n in names}, training=training)
        return list(names), [], report
    except ArchspecError:
        pass
    sizes = []
    for name in names:
        try:
            analyze(spec, **base, **{name: None})
            sizes.append(name)
        except ArchspecError:
            continue
    return sizes, [n for n in names if n not in sizes], None


def _grouped(plan: Plan, points: list[tuple]) -> Chunk:
    """Bind the structural params per group of points; the size params stay free in each group."""
    names = plan.names
    groups: dict[tuple, list[int]] = {}
    for i, point in enumerate(points):
        key = tuple(point[names.index(n)] for n in plan.structural)
        groups.setdefault(key, []).append(i)
    from archspec.limits import active

    limits = active()  # a worker of another process (Dask's) does not share this one's active limits
    jobs = [(plan.spec, names, plan.sizes, plan.structural, key, [points[i] for i in members], plan.metrics, plan.base,
             plan.memory, plan.layout_axes, limits)
            for key, members in groups.items()]
    rows: list[dict[str, Any] | None] = [None] * len(points)
    parallel = plan.executor == "local" and plan.workers > 1 and len(jobs) >= 8 and not isinstance(plan.spec, dict)
    if plan.executor == "dask":
        results = plan.dask_map(jobs)
    elif parallel:
        pool = ProcessPoolExecutor(max_workers=plan.workers)
        results = pool.map(_evaluate_group, jobs, chunksize=max(1, len(jobs) // (8 * plan.workers)))
    else:
        results = map(_evaluate_group, jobs)
    done = plan.done
    for members, group_rows in zip(groups.values(), results):
        done += len(members)
        if plan.progress is not None:
            plan.progress.update(done)
        for i, row in zip(members, group_rows):
            rows[i] = row
    if parallel:
        pool.shutdown()
    columns = {name: [row[name] for row in rows] for name in [*names, *plan.metrics]}
    return Chunk(columns, [row["error"] for row in rows], len(names))


def _evaluate_group(job) -> list[dict[str, Any]]:
    """One structure: an analysis with its structural params bound (and sizes free, if any)."""
    from archspec.limits import applied

    *job, limits = job
    with applied(limits):
        return _evaluate_structure(*job)


def _evaluate_remote(batch, spec) -> list[list[dict[str, Any]]]:
    """_evaluate_group of each structure of a batch on a Dask worker: the spec comes apart from
    the jobs (scattered once)."""
    return [_evaluate_group((spec, *job)) for job in batch]


def _evaluate_structure(spec, names, sizes, structural, key, points, metrics, base, memory, layout_axes) -> list[dict[str, Any]]:
    from archspec.engine import analyze

    fixed = dict(zip(structural, key))
    layout = {n: fixed.pop(n) for n in layout_axes}
    memory = _with_layout(memory, layout)
    training = memory is not None and memory.training
    if len(points) > 1 and sizes:
        try:
            report = analyze(spec, **base, **fixed, **{n: None for n in sizes}, training=training)
            return Formulas(report, sizes, metrics, memory).evaluate(points, names).rows()
        except (ArchspecError, ValueError):
            pass  # the structure and the sizes interact: one analysis per point
    rows = []
    for point in points:
        row: dict[str, Any] = dict(zip(names, point))
        try:
            bound = {n: v for n, v in zip(names, point) if n not in layout}
            values = figures(analyze(spec, **base, **bound, training=training), metrics, memory)
            row.update({m: values[m] for m in metrics})
            row["error"] = ""
        except ArchspecError as exc:
            row.update({m: None for m in metrics})
            row["error"] = str(exc).splitlines()[-1].strip()
        rows.append(row)
    return rows


def _with_layout(memory, sizes: dict[str, Any]):
    """The memory options with a layout whose swept sizes are these (the rest as given)."""
    if memory is None or not sizes:
        return memory
    from dataclasses import replace

    from archspec.parallel import Layout

    return replace(memory, layout=replace(memory.layout or Layout(), **sizes))


# ---- after evaluation: filters and Pareto fronts --------------------------------------
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|<|>=|>)\s*(.+?)\s*$")


def where(condition: str, metrics: list[str]):
    """A row filter from `macs <= 4G`; the metric must be one of the sweep's."""
    match = _CONDITION.match(condition)
    if match is None:
        raise SweepError(f"cannot read the condition {condition!r}; write METRIC <= VALUE, e.g. macs <= 4G")
    metric, op, text = match[1], match[2], match[3]
    if metric not in metrics:
        raise SweepError(f"--where {condition}: {metric} is not among the swept metrics ({', '.join(metrics)})")
    try:
        bound = parse_budget(text)
    except FormulaError as exc:
        raise SweepError(f"--where {condition}: {exc}") from None
    compare = {"<=": lambda v: v <= bound, "<": lambda v: v < bound, ">=": lambda v: v >= bound, ">": lambda v: v > bound}[op]
    return lambda row: row[metric] is not None and compare(row[metric])


def mark_pareto(rows: list[dict[str, Any]], first: str, second: str) -> None:
    """Set row["pareto"]: True where no other row is at most as large in both metrics and smaller in one."""
    valid = sorted((i for i, r in enumerate(rows) if r[first] is not None), key=lambda i: (rows[i][first], rows[i][second]))
    for row in rows:
        row["pareto"] = False
    best_before = None  # the least `second` among rows with a smaller `first`
    position = 0
    while position < len(valid):
        group_end = position
        value = rows[valid[position]][first]
        while group_end < len(valid) and rows[valid[group_end]][first] == value:
            group_end += 1
        least = rows[valid[position]][second]  # sorted: the group's least `second`
        if best_before is None or least < best_before:
            for i in valid[position:group_end]:
                rows[i]["pareto"] = rows[i][second] == least
            best_before = least
        position = group_end
