"""Small builders for tests: a one-input spec dict around a list of layers."""

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
