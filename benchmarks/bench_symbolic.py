"""Wall time and expression size of symbolic analyses (a benchmark, not a test).

    python benchmarks/bench_symbolic.py

Targets (issue: symbolic analysis): ResNet-50 with B, H, W symbolic in under 1 s and
GPT-2 with B, L symbolic in under 0.5 s on a 2-core machine; expressions stay compact (no
blow-up through nested floors).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sympy  # noqa: E402

import archspec  # noqa: E402
from timing import best_of  # noqa: E402




def main() -> None:
    archspec.analyze(ROOT / "specs" / "lenet5.yaml", B=None)  # import sympy once
    cases = [
        ("resnet50", {"B": None, "H": None, "W": None}),
        ("resnet50", {"B": None, "depth3": None}),
        ("densenet121", {"B": None, "H": None, "W": None}),
        ("efficientnet_b0", {"B": None, "H": None, "W": None}),
        ("unet", {"B": None, "H": None, "W": None}),
        ("vgg16", {"B": None, "H": None, "W": None}),
        ("gpt2", {"B": None, "L": None}),  # target < 0.5 s
        ("llama3_405b", {"B": None, "L": None}),
        ("gpt3_175b", {"B": None, "L": None}),
    ]
    for name, free in cases:
        path = ROOT / "specs" / f"{name}.yaml"
        report = archspec.analyze(path, **free)
        seconds = best_of(lambda: archspec.analyze(path, **free), 3)
        macs = report.totals["macs"]
        print(
            f"{name:16s} free {','.join(free):12s} {seconds * 1e3:7.1f} ms   "
            f"MACs formula: {sympy.count_ops(macs):4d} ops, {len(str(macs)):5d} chars, "
            f"{len(macs.atoms(sympy.Function)):3d} distinct floor terms   ({len(report.layers)} layers)"
        )
    # memory: the inference peak is a Max over every layer's live tensors (before largest_sum,
    # sympy's pairwise Max took 30 s for GoogLeNet and 93 s for DenseNet-121 with H free)
    from archspec.memory import memory

    for name, free in [("googlenet", {"H": None}), ("densenet121", {"H": None}), ("inception_v3", {"H": None}),
                       ("densenet121", {"B": None, "H": None, "W": None})]:
        report = archspec.analyze(ROOT / "specs" / f"{name}.yaml", **free)
        peak = memory(report).totals["inference_peak"]
        seconds = best_of(lambda: memory(report), 3)
        arguments = len(peak.args) if isinstance(peak, sympy.Max) else 1
        print(f"{name:16s} free {','.join(free):12s} memory {seconds * 1e3:7.1f} ms   inference peak: Max of {arguments} sums")
    report = archspec.analyze(ROOT / "specs" / "resnet50.yaml", B=None, H=None, W=None)
    print(f"resnet50 subs(B=8, H=224, W=224): {best_of(lambda: report.subs(B=8, H=224, W=224), 3) * 1e3:.1f} ms")
    function = report.lambdify(["B", "H", "W"])
    import numpy

    grid = numpy.meshgrid(numpy.arange(1, 65), numpy.arange(64, 513, 8), numpy.arange(64, 513, 8), indexing="ij")
    seconds = best_of(lambda: function(*grid), 3)
    print(f"resnet50 lambdify on a {grid[0].size:,}-point grid: {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
