"""Plots of sweeps (optional: `pip install 'archspec-nn[plot]'` brings matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError

UNITS = {
    "params": "parameters",
    "buffers": "buffer elements",
    "macs": "MACs (multiply-accumulates)",
    "flops": "FLOPs",
    "activations": "activation elements",
}
MAX_LINES = 8


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise ArchspecError("--plot needs matplotlib: pip install 'archspec-nn[plot]'") from None
    return pyplot


def _scale(axis, values: list[float], which: str) -> None:
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) >= 100:  # values span decades
        getattr(axis, f"set_{which}scale")("log")


def _ticks(axis, metric: str, which: str) -> None:
    """Engineering tick labels: 1.5G, 300M (bytes in binary units: 24 GiB)."""
    from matplotlib.ticker import EngFormatter, FuncFormatter

    from archspec.sweeps import memory_metrics  # the metrics in bytes

    target = axis.yaxis if which == "y" else axis.xaxis
    if metric in UNITS:
        target.set_major_formatter(EngFormatter(sep=""))
    elif metric in memory_metrics():
        target.set_major_formatter(FuncFormatter(lambda v, _: _binary(v)))


def _binary(value: float) -> str:
    """A tick label in binary units, three digits at most (24 GiB, 4.19 GiB; not 24.00 GiB as human_bytes)."""
    from archspec.formats import BINARY_UNITS

    for size, unit in BINARY_UNITS:
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:g} B"


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
STYLES = ("-", "--", "-.", ":")


def sweep_figure(rows: list[dict[str, Any]], axes: list[str], metrics: list[str], pareto: tuple[str, str] | None, title: str = ""):
    """A matplotlib Figure for a paper: the Pareto front of two metrics (points coloured by the
    first axis), or each metric against the first axis; engineering tick labels; axes that hold
    one value are stated once in the title; coinciding curves told apart by marker and line."""
    pyplot = _pyplot()
    valid = [r for r in rows if not r.get("error")]
    constant = [n for n in axes if len({r[n] for r in valid}) == 1]
    varying = [n for n in axes if n not in constant]
    if constant and valid:
        title = (title + ": " if title else "") + ", ".join(f"{n}={valid[0][n]}" for n in constant)
    if pareto is not None:
        first, second = pareto
        figure, axis = pyplot.subplots(figsize=(6.4, 4.6))
        front = sorted((r for r in valid if r.get("pareto")), key=lambda r: r[first])
        colour_by = varying[0] if varying else None
        points = axis.scatter([r[first] for r in valid], [r[second] for r in valid], s=10, alpha=0.6,
                              c=[float(r[colour_by]) for r in valid] if colour_by else None, cmap="viridis")
        if colour_by:
            figure.colorbar(points, ax=axis, label=colour_by)
        axis.plot([r[first] for r in front], [r[second] for r in front], "o-", color="C3", linewidth=1.5, markersize=5,
                  label=f"Pareto front ({len(front)})")
        axis.set_xlabel(UNITS.get(first, first))
        axis.set_ylabel(UNITS.get(second, second))
        _scale(axis, [r[first] for r in valid], "x")
        _scale(axis, [r[second] for r in valid], "y")
        _ticks(axis, first, "x")
        _ticks(axis, second, "y")
        axis.legend(fontsize="small")
    else:
        x_name = varying[0] if varying else axes[0]
        rest = [n for n in varying if n != x_name]
        figure, plots = pyplot.subplots(len(metrics), 1, figsize=(6.4, 3.0 * len(metrics)), squeeze=False)
        series: dict[tuple, list[dict[str, Any]]] = {}
        for row in valid:
            series.setdefault(tuple(row[name] for name in rest), []).append(row)
        for metric, (axis,) in zip(metrics, plots):
            for k, (key, members) in enumerate(list(series.items())[:MAX_LINES]):
                members = sorted(members, key=lambda r: r[x_name])
                label = ", ".join(f"{n}={v}" for n, v in zip(rest, key)) or None
                axis.plot([r[x_name] for r in members], [r[metric] for r in members], marker=MARKERS[k % len(MARKERS)],
                          linestyle=STYLES[k % len(STYLES)], markersize=4, label=label)
            axis.set_xlabel(x_name)
            axis.set_ylabel(UNITS.get(metric, metric))
            _scale(axis, [r[metric] for r in valid], "y")
            _ticks(axis, metric, "y")
            axis.grid(True, alpha=0.3)
            if rest and axis is plots[0][0]:
                shown = min(len(series), MAX_LINES)
                axis.legend(fontsize="small", title=f"{shown} of {len(series)} series" if len(series) > shown else None)
    if title:
        figure.suptitle(title, fontsize="medium")
    figure.tight_layout()
    return figure


def plot_sweep(rows, axes, metrics, pareto, path: Path, title: str = "", dpi: int = 200) -> None:
    """Draw the sweep to a PNG, SVG or PDF file."""
    figure = sweep_figure(rows, axes, metrics, pareto, title)
    figure.savefig(path, dpi=dpi)
    _pyplot().close(figure)


def plot_roofline(rows, device, dtype: str, efficiency, path, title: str = "") -> None:
    """Layers as points on the device's roofline: arithmetic intensity against the FLOP/s they can reach."""
    pyplot = _pyplot()
    peak = device.matmul_flops(dtype) * efficiency.matmul
    bandwidth = device.memory_bandwidth * efficiency.memory
    points = [(float(r.intensity), float(r.flops) / float(r.time_s), r.bound) for r in rows
              if r.bytes and r.flops and float(r.time_s) > 0]
    figure, axis = pyplot.subplots(figsize=(7, 5))
    if points:
        low = min(p[0] for p in points) / 2
        high = max(max(p[0] for p in points) * 2, 2 * peak / bandwidth)
        xs = [low, peak / bandwidth, high]
        axis.plot(xs, [min(peak, x * bandwidth) for x in xs], color="black", linewidth=1, label="roofline")
        for bound, color in (("compute", "C3"), ("memory", "C0")):
            chosen = [p for p in points if p[2] == bound]
            axis.scatter([p[0] for p in chosen], [p[1] for p in chosen], s=10, color=color, alpha=0.6, label=f"{bound}-bound layers")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("arithmetic intensity (FLOPs per byte)")
    axis.set_ylabel("attainable FLOP/s")
    _save(figure, axis, title, path)


def plot_plan(candidates, path, title: str = "") -> None:
    """Layouts as points: memory per device against step time, the Pareto front drawn."""
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(7, 5))
    times = [c[0] for c in candidates]
    memories = [c[1] / 2**30 for c in candidates]
    axis.scatter(memories, times, s=10, alpha=0.5, label="layouts that fit")
    front, best = [], float("inf")
    for t, m in sorted(zip(times, memories), key=lambda p: (p[1], p[0])):
        if t < best:
            front.append((m, t))
            best = t
    axis.plot([m for m, _ in front], [t for _, t in front], "o-", color="C3", label="Pareto front")
    axis.set_xlabel("memory per device (GiB)")
    axis.set_ylabel("step time (s)")
    _save(figure, axis, title, path)


def _save(figure, axis, title: str, path) -> None:
    """A one-axis figure's legend and title, then the file."""
    axis.legend(fontsize="small")
    axis.set_title(title, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
