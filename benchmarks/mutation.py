"""Mutation score of the test suite (a benchmark, not a test; run it by hand, it takes a while).

    python benchmarks/mutation.py                 # every mutation, the whole suite against each
    python benchmarks/mutation.py --area memory   # one area
    python benchmarks/mutation.py --list          # the mutations

Each mutation is one small semantic change a plausible bug would make (a per-element cost, a
byte size, an optimizer's state count, a shape rule, a sharding factor, a timing factor, an
importer default). The runner copies the package, specs and tests into a temporary folder,
applies one mutation there, regenerates the docs (stale docs alone kill nothing), and runs the
suite (`pytest -x`): the mutant is killed when a test fails. It prints the score per area and the survivors: each survivor is either killed by a new
test, or written down here as equivalent (EQUIVALENT) with the reason.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    area: str
    file: str
    old: str
    new: str
    what: str


MUTATIONS = [
    # ---- costs: the per-element table every layer rule reads
    Mutation("costs", "archspec/costs.py", '"GELU": ElementCost(5,', '"GELU": ElementCost(4,', "GELU 5 -> 4 FLOPs"),
    Mutation("costs", "archspec/costs.py", "ElementCost(\n        9, \"x*x*x", "ElementCost(\n        8, \"x*x*x", "tanh GELU 9 -> 8"),
    Mutation("costs", "archspec/costs.py", '"Sigmoid": ElementCost(3,', '"Sigmoid": ElementCost(2,', "Sigmoid 3 -> 2"),
    Mutation("costs", "archspec/costs.py", '"SiLU": ElementCost(4,', '"SiLU": ElementCost(5,', "SiLU 4 -> 5"),
    Mutation("costs", "archspec/costs.py", '"ReLU6": ElementCost(2,', '"ReLU6": ElementCost(1,', "ReLU6 2 -> 1"),
    Mutation("costs", "archspec/costs.py", '"Hardswish": ElementCost(5,', '"Hardswish": ElementCost(4,', "Hardswish 5 -> 4"),
    Mutation("costs", "archspec/costs.py", '"Softplus": ElementCost(4,', '"Softplus": ElementCost(3,', "Softplus 4 -> 3"),
    Mutation("costs", "archspec/costs.py", '"LayerNorm": ElementCost(\n        5,', '"LayerNorm": ElementCost(\n        4,',
             "LayerNorm 5 -> 4 per element"),
    Mutation("costs", "archspec/costs.py", '"BatchNorm": ElementCost(\n        2,', '"BatchNorm": ElementCost(\n        1,',
             "BatchNorm 2 -> 1"),
    # ---- memory: byte sizes and optimizer states
    Mutation("memory", "archspec/memory.py", '"adam": 2, "adamw": 2', '"adam": 1, "adamw": 2', "Adam keeps 1 state"),
    Mutation("memory", "archspec/memory.py", '"adamw": 2}', '"adamw": 1}', "AdamW keeps 1 state"),
    Mutation("memory", "archspec/memory.py", '"sgd-momentum": 1', '"sgd-momentum": 0', "SGD momentum keeps none"),
    Mutation("memory", "archspec/memory.py", '"bf16": 2,', '"bf16": 4,', "bf16 is 4 bytes"),
    Mutation("memory", "archspec/memory.py", "ceildiv(count, 2)", "ceildiv(count, 1)", "int4 one value per byte"),
    # ---- layers: shape rules and counts
    Mutation("layers", "archspec/layers/linear.py", "return x[-1] * self.out_features + (self.out_features if self.bias else 0)",
             "return x[-1] * self.out_features", "Linear bias not counted"),
    Mutation("layers", "archspec/layers/attention.py", "+ 3 * int(self.softcap) + 5\n", "+ 3 * int(self.softcap) + 4\n",
             "softmax 5 -> 4 per score in attention"),
    Mutation("layers", "archspec/layers/attention.py", "ROPE_FLOPS_PER_PAIR = 7", "ROPE_FLOPS_PER_PAIR = 6", "rotary 7 -> 6"),
    Mutation("layers", "archspec/layers/attention.py", "        if not self.causal_pairs:\n            return self.queries * self.scored_keys",
             "        if not self.causal_pairs:\n            return self.queries * (self.scored_keys + 1) // 2",
             "every attention counted causal (half the scores)"),
    Mutation("layers", "archspec/layers/attention.py", "per_score * scores - 2 * rows", "per_score * scores - 1 * rows",
             "softmax row term 2 -> 1"),
    Mutation("layers", "archspec/layers/recurrent.py", "cell_flops = 15", "cell_flops = 14", "LSTM cell 15 -> 14 FLOPs"),
    Mutation("layers", "archspec/layers/recurrent.py", "saved_per_unit = 7", "saved_per_unit = 6", "LSTM keeps 6 per unit"),
    # ---- parallel: collective volumes and pipeline in-flight counts
    Mutation("parallel", "archspec/parallel/memory.py", '"all_reduce": lambda n: (2 * (n - 1), n)',
             '"all_reduce": lambda n: (n - 1, n)', "all-reduce volume halved"),
    Mutation("parallel", "archspec/parallel/memory.py", '"all_to_all": lambda n: (n - 1, n)', '"all_to_all": lambda n: (n, n)',
             "all-to-all sends to itself"),
    Mutation("parallel", "archspec/parallel/pipeline.py", "return count * (1 + Fraction(pp - 1, pp * layout.virtual_stages))",
             "return count", "interleaving adds no in-flight memory"),
    # ---- timing
    Mutation("timing", "archspec/timing/training.py", "passes = 3 if row.macs else 2", "passes = 2 if row.macs else 2",
             "backward of a matmul costs one forward"),
    Mutation("timing", "archspec/timing/training.py", "model_flops = 6.0 * macs * global_batches",
             "model_flops = 4.0 * macs * global_batches", "model FLOPs 4 per MAC"),
    Mutation("timing", "archspec/timing/training.py", "pipeline = micro_time * (micro + (layout.pp - 1) / layout.virtual_stages)",
             "pipeline = micro_time * micro", "no pipeline bubble"),
    # ---- importers
    Mutation("importers", "archspec/importers/hf/llama.py", "qkv_bias=True, attention_layers=sliding_above",
             "qkv_bias=False, attention_layers=sliding_above", "Qwen2 without q/k/v biases"),
    Mutation("importers", "archspec/importers/hf/decoder.py", 'min(max_positions, arch.default_length)',
             'max(max_positions, arch.default_length)', "default L the maximum"),
]

# Mutations the suite cannot kill because they change nothing observable (with the reason).
EQUIVALENT: dict[str, str] = {}


def run(mutation: Mutation | None, timeout: int, root: Path = ROOT) -> tuple[bool, float, str]:
    """(killed, seconds, the first failing test) of one mutant; None runs the unmutated suite."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        work = Path(folder)
        for part in ("archspec", "specs", "tests", "docs", "pyproject.toml", "README.md"):
            source = root / part
            if source.is_dir():
                shutil.copytree(source, work / part, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
            else:
                shutil.copy2(source, work / part)
        if mutation is not None:
            path = work / mutation.file
            text = path.read_text()
            if text.count(mutation.old) != 1:
                return False, 0.0, f"SKIPPED: the text to mutate occurs {text.count(mutation.old)} times"
            path.write_text(text.replace(mutation.old, mutation.new))
            # the generated docs follow the code: a mutant is not "killed" by stale docs alone
            subprocess.run([sys.executable, "-m", "archspec.docgen"], cwd=work, capture_output=True, timeout=timeout)
        start = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests"],
                cwd=work, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return True, time.perf_counter() - start, "timeout (counted as killed)"
        failed = next((line for line in result.stdout.splitlines() if line.startswith("FAILED")), "")
        return result.returncode != 0, time.perf_counter() - start, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--area", default=None)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to mutate (a clean checkout)")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.area in (None, m.area)]
    if args.list:
        for m in chosen:
            print(f"{m.area:10} {m.file}: {m.what}")
        return 0
    failed, seconds, detail = run(None, args.timeout, args.root)
    print(f"unmutated suite: {'FAILS: ' + detail if failed else 'passes'} ({seconds:.0f} s)", flush=True)
    if failed:
        return 1
    results: dict[str, list[tuple[Mutation, bool, str]]] = {}
    for mutation in chosen:
        killed, seconds, detail = run(mutation, args.timeout, args.root)
        status = "killed  " if killed else ("skipped " if detail.startswith("SKIPPED") else "SURVIVED")
        print(f"{status} {mutation.area:10} {mutation.what:48} {seconds:6.1f} s  {detail[:100]}", flush=True)
        results.setdefault(mutation.area, []).append((mutation, killed, detail))
    print()
    total_killed = total = 0
    for area, items in results.items():
        counted = [(m, k) for m, k, d in items if not d.startswith("SKIPPED") and m.what not in EQUIVALENT]
        killed = sum(k for _, k in counted)
        total_killed, total = total_killed + killed, total + len(counted)
        print(f"{area:10} {killed}/{len(counted)} killed ({100 * killed / max(1, len(counted)):.0f}%)")
        for m, k in counted:
            if not k:
                print(f"           survivor: {m.what} ({m.file})")
    print(f"{'all':10} {total_killed}/{total} killed ({100 * total_killed / max(1, total):.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
