"""Wall-time benchmark of analysis (a benchmark, not a test; run it by hand).

    python benchmarks/bench_analyze.py

Reports, on this machine:
- VGG-16 analyzed in process (all params bound), after import;       target < 30 ms
- generated sequential specs of 100 and 1,000 layers;                 target < 0.5 s for 1,000,
  and the 1,000 / 100 ratio (linear growth);                          target ratio < 12
- `archspec analyze specs/vgg16.yaml` end to end as a process;        target < 0.4 s
  (thop needs over 4 s for ResNet-50 end to end: torch import, model, forward pass)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archspec  # noqa: E402
from timing import best_of  # noqa: E402
from archspec.engine import analyze_model  # noqa: E402
from archspec.spec import validate  # noqa: E402


def sequential_spec(depth: int) -> dict:
    """A deep shape-preserving stack: conv, batch norm and activation layers, then a head."""
    layers = []
    for i in range(depth - 3):
        layers.append(
            [
                {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
                "BatchNorm2d",
                "ReLU",
            ][i % 3]
        )
    layers += [{"type": "AdaptiveAvgPool2d", "output_size": 1}, "Flatten", {"type": "Linear", "out_features": 10}]
    return {"name": f"seq{depth}", "params": {"B": 1}, "inputs": {"x": {"shape": ["B", 16, 32, 32]}}, "layers": layers}




def main() -> None:
    vgg = ROOT / "specs" / "vgg16.yaml"
    archspec.analyze(vgg)  # warm up imports
    vgg_total = best_of(lambda: archspec.analyze(vgg), 20)
    parsed, source = validate(vgg)
    vgg_analysis = best_of(lambda: analyze_model(parsed, source), 20)
    print(f"VGG-16, in process (read + validate + analyze): {vgg_total * 1e3:7.2f} ms   (target < 30 ms)")
    print(f"VGG-16, analysis of a validated spec:          {vgg_analysis * 1e3:7.2f} ms")

    times = {}
    for depth in (100, 1000):
        data = sequential_spec(depth)
        times[depth] = best_of(lambda: archspec.analyze(data), 5)
        print(f"{depth:5d}-layer sequential spec (validate + analyze): {times[depth] * 1e3:7.1f} ms")
    print(f"ratio 1,000 / 100 layers: {times[1000] / times[100]:.2f}   (target < 12; 10 is linear)")
    print(f"1,000 layers: {times[1000]:.3f} s   (target < 0.5 s)")

    symbolic = best_of(lambda: archspec.analyze(vgg, B=None, H=None, W=None), 3)
    print(f"VGG-16 with B, H, W symbolic: {symbolic * 1e3:7.1f} ms")

    # Graph specs: blocks and repeats unrolled (ResNet-50: 175 layers, DenseNet-121: 433).
    for name in ("resnet50", "densenet121", "efficientnet_b0"):
        path = ROOT / "specs" / f"{name}.yaml"
        report = archspec.analyze(path)
        seconds = best_of(lambda: archspec.analyze(path), 10)
        print(f"{name}, in process ({len(report.layers)} layers): {seconds * 1e3:7.1f} ms")
    resnet = ROOT / "specs" / "resnet50.yaml"
    free_depth = best_of(lambda: archspec.analyze(resnet, depth3=None), 3)
    print(f"resnet50 with depth3 and B free: {best_of(lambda: archspec.analyze(resnet, depth3=None, B=None), 3) * 1e3:7.1f} ms "
          f"(depth3 only: {free_depth * 1e3:.1f} ms)")

    runs = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "archspec", "analyze", str(vgg)], check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    resnet_runs = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "archspec", "analyze", str(resnet)], check=True, capture_output=True)
        resnet_runs.append(time.perf_counter() - start)
    print(
        f"`archspec analyze specs/vgg16.yaml` as a process: median {statistics.median(runs):.3f} s, "
        f"best {min(runs):.3f} s   (target < 0.4 s; thop > 4 s on ResNet-50)"
    )
    print(f"`archspec analyze specs/resnet50.yaml` as a process: median {statistics.median(resnet_runs):.3f} s, best {min(resnet_runs):.3f} s")


if __name__ == "__main__":
    main()
