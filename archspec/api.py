"""The top-level Python API: each function takes a spec (a path, YAML text, a mapping, a
HuggingFace config or an ONNX file) and params to re-bind, and returns data.

    >>> import archspec
    >>> archspec.analyze("specs/resnet50.yaml", B=8).totals["macs"]
    >>> archspec.memory("specs/gpt2.yaml", dtype="bf16", B=8).totals["training_total"]
    >>> archspec.formula("specs/gpt2.yaml", "B", "L")["flops"]
    >>> archspec.fit("specs/llama3_8b.yaml", "B", memory="80GiB", dtype="bf16", training=False).value
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from archspec.compare import Comparison
    from archspec.formula import Fit
    from archspec.memory import Memory
    from archspec.report import Report

SpecSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def memory(spec: SpecSource, *, decode: bool = False, layout: Any = None, **options_and_bindings: Any) -> "Memory":
    """The memory breakdown (weights, gradients, optimizer state, saved activations, KV cache...).

    Keyword arguments named as archspec.memory.MemoryOptions fields (dtype, grad_dtype,
    optimizer, training, checkpointing, master_weights, device) set the options; `layout`
    (an archspec.parallel.Layout) adds per-device figures; the rest re-bind params.
    """
    from dataclasses import fields

    from archspec.engine import analyze
    from archspec.memory import MemoryOptions
    from archspec.memory import memory as memory_of

    names = {f.name for f in fields(MemoryOptions)}
    options = MemoryOptions(**{k: v for k, v in options_and_bindings.items() if k in names}, layout=layout)
    if decode:
        from dataclasses import replace

        options = replace(options, training=False)
    bindings = {k: v for k, v in options_and_bindings.items() if k not in names}
    report = analyze(spec, decode=decode, training=options.training, **bindings)
    return memory_of(report, options)


def formula(spec: SpecSource, *symbols: str, metrics: tuple[str, ...] = ("params", "macs", "flops"),
            **bindings: Any) -> dict[str, Any]:
    """Each metric as an exact sympy formula in the named params (the others at their values)."""
    from archspec.engine import analyze
    from archspec.formula import formulas

    report = analyze(spec, **bindings, **{name: None for name in symbols})
    return formulas(report.totals, tuple(metrics))


def fit(spec: SpecSource, name: str, *, params: Any = None, macs: Any = None, flops: Any = None, memory: Any = None,
        **options_and_bindings: Any) -> "Fit":
    """The largest value of param `name` that keeps one metric within a budget (a number or
    text such as "4.1G" or "80GiB"); memory options as in `memory`."""
    from dataclasses import fields

    from archspec.dims import evaluate_at
    from archspec.engine import analyze
    from archspec.errors import ArchspecError
    from archspec.formula import fit as solve
    from archspec.formula import parse_budget
    from archspec.memory import MemoryOptions
    from archspec.memory import memory as memory_of

    chosen = {k: v for k, v in (("params", params), ("macs", macs), ("flops", flops), ("memory", memory)) if v is not None}
    if len(chosen) != 1:
        raise ArchspecError("give exactly one budget: params=, macs=, flops= or memory=")
    (metric, budget), = chosen.items()
    budget = budget if isinstance(budget, int) else parse_budget(str(budget))
    names = {f.name for f in fields(MemoryOptions)}
    options = MemoryOptions(**{k: v for k, v in options_and_bindings.items() if k in names})
    bindings = {k: v for k, v in options_and_bindings.items() if k not in names}
    report = analyze(spec, training=metric == "memory" and options.training, **bindings, **{name: None})
    if metric == "memory":
        key = "training_total" if options.training else "inference_total"
        value = memory_of(report, options).totals[key]
    else:
        value = report.totals[metric]
    return solve(lambda n: int(evaluate_at(value, {name: n})), lambda n: {}, name, metric, budget)


def compare(spec: SpecSource, **bindings: Any) -> "Comparison":
    """Every counting convention's figures side by side (archspec, torchvision, thop, ...)."""
    from archspec.compare import compare as compare_conventions

    return compare_conventions(spec, bindings)


