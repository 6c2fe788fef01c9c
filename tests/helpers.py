"""Small builders for tests: a spec dict around a list of layers, one layer's report row."""

from __future__ import annotations

from typing import Any

import archspec


def spec(shape: list[Any], layers: list[Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A spec dict with one input `x` of `shape`."""
    return {"name": "test", "params": params or {}, "inputs": {"x": {"shape": shape}}, "layers": layers}


def analyze_one(shape: list[Any], layer: Any, params: dict[str, Any] | None = None, **bindings: Any):
    """The report row of a single layer applied to an input of `shape`."""
    report = archspec.analyze(spec(shape, [layer], params), **bindings)
    return report.layers[0]


def analyze_over(shapes: list[list[Any]], layer: dict[str, Any]):
    """The report row of one layer applied to inputs x0, x1, ... of the given shapes."""
    names = [f"x{i}" for i in range(len(shapes))]
    inputs = {name: {"shape": list(shape)} for name, shape in zip(names, shapes)}
    return archspec.analyze({"inputs": inputs, "layers": [{**layer, "from": names}]}).layers[0]
