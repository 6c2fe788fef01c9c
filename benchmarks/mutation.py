"""Mutation score of the test suite (a benchmark, not a test; run it by hand, it takes a while).

    python benchmarks/mutation.py                 # every mutation, the whole suite against each
    python benchmarks/mutation.py --area memory   # one area
    python benchmarks/mutation.py --list          # the mutations, numbered
    python benchmarks/mutation.py --only 30-50    # some of them, by number (or --match TEXT)
    python benchmarks/mutation.py --root /tmp/clone > benchmarks/mutation_results.txt
                                                  # from a clean clone of a commit: the last full run

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
    # ---- conventions: the peers' rules (thop, ptflops, fvcore, FlopCounterMode, torchinfo, calflops)
    Mutation("conventions", "archspec/conventions/thop.py", "return mac(f.x[-1] * f.numel_out)",
             "return mac(f.x[-1] * f.numel_out + (f.numel_out if f.layer.bias else 0))", "thop counts a Linear's bias"),
    Mutation("conventions", "archspec/conventions/thop.py", "(3 * features - 1)", "(3 * features)",
             "thop softmax 3F - 1 -> 3F per row"),
    Mutation("conventions", "archspec/conventions/ptflops.py", "Fraction(int(count), int(f.batch))",
             "Fraction(int(count), 1)", "ptflops: module counts not divided by the batch"),
    Mutation("conventions", "archspec/conventions/ptflops.py",
             "_per_sample(f, f.numel_out) + _functional(f, f.numel_in)\n", "_per_sample(f, f.numel_out)\n",
             "ptflops: ReLU/GELU counted once (module hook only)"),
    Mutation("conventions", "archspec/conventions/ptflops.py", "p.queries * p.value_dim * (p.value_dim + 1)",
             "p.queries * p.value_dim * p.value_dim", "ptflops MHA: out_proj bias not counted"),
    Mutation("conventions", "archspec/conventions/fvcore.py", 'return mac(int(Fraction(f"{flop:.3e}") // 2))',
             "return mac(flop // 2)", "fvcore einsum without numpy's 4-digit rounding"),
    Mutation("conventions", "archspec/conventions/fvcore.py", "return mac(f.numel_in * f.inputs[1][-1])",
             "return mac(f.numel_out * f.x[-1])", "fvcore matmul counts the broadcast output"),
    Mutation("conventions", "archspec/conventions/flopcounter.py", "return input_grad + forward.flops * groups",
             "return input_grad + forward.flops", "FlopCounterMode: grouped conv weight grad not dense"),
    Mutation("conventions", "archspec/conventions/flopcounter.py", "(3 * p.head_dim + 2 * p.value_head_dim)",
             "(2 * p.head_dim + 2 * p.value_head_dim)", "FlopCounterMode: SDPA backward 2x forward (not 3 d_q + 2 d_v)"),
    Mutation("conventions", "archspec/conventions/torchinfo.py",
             "return mac(f.params * f.out[0]) if f.is_module else Cost()",
             "return mac(f.params * product(f.out[:-1])) if f.is_module else Cost()",
             "torchinfo: params x every output row (#226 fixed)"),
    Mutation("conventions", "archspec/conventions/calflops.py",
             "macs = f.numel_in * floordiv(per_group, layer.groups) * product(layer.kernel_size)",
             "macs = f.numel_in * per_group * product(layer.kernel_size)", "calflops ConvTranspose: groups divided once"),
    # ---- layers of the MoE / decode round
    Mutation("layers", "archspec/layers/moe.py", "k * (experts - 1)", "k * experts", "MoE top-k: k*E comparisons (not k*(E-1))"),
    Mutation("layers", "archspec/layers/attention.py", "tokens = minimum(tokens, self.window - 1)",
             "tokens = minimum(tokens, self.window)", "sliding-window KV cache keeps W tokens"),
    Mutation("layers", "archspec/layers/attention.py", " + _triangle(self.past - self.window)", "",
             "window: past keys before the window scored"),
    Mutation("layers", "archspec/layers/attention.py",
             "per_token = self.kv_heads * (self.head_dim + self.value_head_dim)\n        if self.cross:\n"
             "            return self.lead * self.keys * per_token\n",
             "per_token = self.heads * (self.head_dim + self.value_head_dim)\n        if self.cross:\n"
             "            return self.lead * self.keys * per_token\n", "KV cache per query head (GQA ignored)"),
    Mutation("layers", "archspec/layers/latent_attention.py",
             "return parts.lead * (self.past + parts.keys) * (self.kv_lora_rank + self.qk_rope_head_dim)",
             "return parts.lead * (self.past + parts.keys) * self.kv_lora_rank", "MLA cache without the rotary key"),
    Mutation("layers", "archspec/layers/mamba.py", "return x[0] * d * (self.d_conv + self.d_state)",
             "return x[0] * d * (self.d_conv - 1 + self.d_state)", "Mamba conv state d_conv - 1 inputs"),
    # ---- parallel: sharding factors
    Mutation("parallel", "archspec/parallel/memory.py", "expert_group = _divide(data_group, layout.ep)",
             "expert_group = data_group", "ZeRO shards experts over dp (not dp/ep)"),
    Mutation("parallel", "archspec/parallel/memory.py", "layout.zero >= 2)", "layout.zero >= 3)",
             "ZeRO-2 keeps whole gradients"),
    # ---- timing and the device model
    Mutation("timing", "archspec/timing/roofline.py", "cache = _bytes(row.kv_cache_read, options.dtype)", "cache = 0",
             "roofline: a decode step reads no KV cache"),
    Mutation("timing", "archspec/timing/training.py", '"tp": intra if tp <= node else inter',
             '"tp": intra if tp < node else inter', "tp over a whole node counted inter-node"),
    # ---- node-limited expert dispatch and the fp8 recipe (this session)
    Mutation("parallel", "archspec/layers/moe.py", "reachable = min(parts, self.topk_groups * max(1, parts // self.groups))",
             "reachable = parts", "dispatch ignores group-limited routing"),
    Mutation("parallel", "archspec/parallel/memory.py", "across = row.layer.destinations(nodes) * (nodes - 1) / nodes",
             "across = row.layer.destinations(nodes)", "node dispatch sends to its own node over the network"),
    Mutation("parallel", "archspec/parallel/memory.py", "within = row.layer.destinations(layout.ep) * (ranks - 1) / ranks",
             "within = row.layer.top_k * (ranks - 1) / ranks", "node forward: one copy per expert, not per rank"),
    Mutation("timing", "archspec/timing/training.py", "seconds = max(seconds, node_forward)", "seconds = seconds + node_forward",
             "node dispatch: the two links in sequence"),
    Mutation("timing", "archspec/timing/training.py", "if stacked and len(row.path) < 2:", "if False:",
             "fp8: the output head in fp8"),
    Mutation("timing", "archspec/timing/training.py",
             "return float(row.layer.parts(*row.input_shapes).score_macs() * row.times)\n    return 0.0\n\n\ndef _recomputed_macs",
             "return 0.0\n    return 0.0\n\n\ndef _recomputed_macs", "fp8: the attention core in fp8"),
]

# Mutations the suite cannot kill because they change nothing observable (with the reason).
EQUIVALENT: dict[str, str] = {}


def run(mutation: Mutation | None, timeout: int, root: Path = ROOT) -> tuple[bool, float, str]:
    """(killed, seconds, the first failing test) of one mutant; None runs the unmutated suite."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        work = Path(folder)
        for part in ("archspec", "specs", "tests", "docs", "benchmarks", "pyproject.toml", "README.md"):
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
            subprocess.run([sys.executable, "-m", "archspec.docgen"], check=False, cwd=work, capture_output=True, timeout=timeout)
        start = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests"],
                check=False, cwd=work, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return True, time.perf_counter() - start, "timeout (counted as killed)"
        failed = next((line for line in result.stdout.splitlines() if line.startswith("FAILED")), "")
        return result.returncode != 0, time.perf_counter() - start, failed


def _numbers(text: str) -> set[int]:
    """"30-49,3" -> {3, 30, ..., 49}."""
    numbers: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def _check(mutation: Mutation, root: Path) -> str:
    """Why a mutation cannot be applied (its text must occur exactly once), or ""."""
    count = (root / mutation.file).read_text().count(mutation.old)
    return "" if count == 1 else f"[the text to mutate occurs {count} times]"


def _commit(root: Path) -> str:
    """The commit of the tree the mutants are made from (and whether it has changes on top)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], check=False, cwd=root, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head.stdout.strip()}{' with uncommitted changes' if dirty.stdout.strip() else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--area", default=None)
    parser.add_argument("--only", default=None, help="mutation numbers as --list prints them: 30-49,3")
    parser.add_argument("--match", default=None, help="mutations whose file or description contains this text")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to mutate (a clean checkout)")
    args = parser.parse_args()
    numbers = _numbers(args.only) if args.only else None
    chosen = [
        (number, m) for number, m in enumerate(MUTATIONS, 1)
        if args.area in (None, m.area) and (numbers is None or number in numbers)
        and (args.match is None or args.match.lower() in f"{m.file} {m.what}".lower())
    ]
    if args.list:
        for number, m in chosen:
            problem = _check(m, args.root)
            print(f"{number:3} {m.area:11} {m.file}: {m.what}{'  ' + problem if problem else ''}")
        return 0
    print(f"mutation run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {_commit(args.root)}, "
          f"{len(chosen)} of {len(MUTATIONS)} mutations", flush=True)
    failed, seconds, detail = run(None, args.timeout, args.root)
    print(f"unmutated suite: {'FAILS: ' + detail if failed else 'passes'} ({seconds:.0f} s)", flush=True)
    if failed:
        return 1
    results: dict[str, list[tuple[Mutation, bool, str]]] = {}
    for number, mutation in chosen:
        killed, seconds, detail = run(mutation, args.timeout, args.root)
        status = "killed  " if killed else ("skipped " if detail.startswith("SKIPPED") else "SURVIVED")
        if not killed and mutation.what in EQUIVALENT:
            status = "equival."
        print(f"{number:3} {status} {mutation.area:11} {mutation.what:52} {seconds:6.1f} s  {detail[:100]}", flush=True)
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
