"""Sweep throughput (a benchmark, not a test).

    python benchmarks/bench_sweep.py

Targets, on a 2-core machine:
- 1,000,000 points that change only sizes evaluated in under 2 s after the one-time
  symbolic analysis (reported with points per second);
- the same written to CSV by `archspec sweep --out` in under 1.5 s after the analysis
  (>= 700,000 points/s), with a peak RSS under 200 MB in every mode (table, --top, --out);
- 200 EfficientNet-B0 width x depth variants (a structural sweep) under 5 s with 2 workers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archspec.sweeps import Plan, grid_axis, points_of, range_axis  # noqa: E402


def main() -> None:
    spec = ROOT / "specs" / "resnet50.yaml"
    axes = [grid_axis("B=1..64"), grid_axis("H=64..1024:8"), grid_axis("depth3=1..128")]
    start = time.perf_counter()
    plan = Plan(spec, axes, ["params", "macs", "flops"])
    prepared = time.perf_counter() - start
    points = list(points_of(axes, None, 0))
    start = time.perf_counter()
    count = 0
    for chunk in plan.chunks(iter(points)):
        count += len(chunk.errors)
    evaluated = time.perf_counter() - start
    print(f"size sweep, resnet50 over B x H x depth3: {count:,} points ({plan.method})")
    print(f"  one-time symbolic analysis + lambdify: {prepared:.2f} s")
    print(f"  evaluation: {evaluated:.2f} s = {count / evaluated:,.0f} points/s   (target: 1,000,000 in < 2 s)")

    structural = [range_axis("width_mult=0.5:2.0"), range_axis("depth_mult=1:3")]
    start = time.perf_counter()
    plan = Plan(ROOT / "specs" / "efficientnet_b0.yaml", structural, ["params", "macs"])
    rows = sum(len(c.errors) for c in plan.chunks(points_of(structural, 200, 0, plan.integer_axes)))
    print(f"structural sweep, efficientnet_b0 width x depth multipliers: {rows} variants ({plan.method}) "
          f"in {time.perf_counter() - start:.1f} s   (target: 200 in < 20 s)")

    resnet = [grid_axis("width=16..64:8"), grid_axis("depth1=1..5"), grid_axis("depth4=1..5")]
    start = time.perf_counter()
    plan = Plan(ROOT / "specs" / "resnet18.yaml", resnet, ["params", "macs"])
    rows = sum(len(c.errors) for c in plan.chunks(points_of(resnet, None, 0)))
    print(f"resnet18 width x depths: {rows} variants ({plan.method}) in {time.perf_counter() - start:.1f} s")


def to_disk() -> None:
    """`archspec sweep` as a process: 10**6 points to CSV, and the table mode, with peak RSS."""
    import re
    import subprocess
    import tempfile

    start = time.perf_counter()
    Plan(ROOT / "specs" / "resnet18.yaml", [grid_axis("B=1..1000000")], ["params", "macs", "flops"])
    print(f"resnet18's one-time analysis (to subtract): {time.perf_counter() - start:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        for mode, extra in (("--out CSV", ["--out", f"{folder}/points.csv"]), ("table (--top 20)", [])):
            command = ["/usr/bin/time", "-v", sys.executable, "-m", "archspec", "sweep", str(ROOT / "specs" / "resnet18.yaml"),
                       "--grid", "B=1..1000000", *extra]
            result = subprocess.run(command, capture_output=True, text=True)
            line = next(l for l in result.stderr.splitlines() if "points (" in l)
            total = float(re.search(r"([0-9.]+) s$", line).group(1))
            rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
            print(f"archspec sweep resnet18 B=1..1000000, {mode}: {total:.2f} s in all (analysis included), "
                  f"peak RSS {rss:.0f} MB   (targets: < 1.5 s after the analysis, < 200 MB)")


if __name__ == "__main__":
    main()
    to_disk()
