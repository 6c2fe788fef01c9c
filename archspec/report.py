"""The result of an analysis: plain data, formatted elsewhere (archspec.formats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from archspec.dims import Value, as_plain, product, total

TOTAL_KEYS = ("params", "buffers", "macs", "flops", "activations")


@dataclass(frozen=True)
class LayerRow:
    """One analyzed layer: its shapes and its counts."""

    name: str
    type: str
    input_shapes: tuple[tuple[Value, ...], ...]
    output_shape: tuple[Value, ...]
    params: Value
    buffers: Value
    macs: Value
    flops: Value

    @property
    def activations(self) -> Value:
        """Elements of the layer's output tensor."""
        return product(self.output_shape)


@dataclass(frozen=True)
class Report:
    """Per-layer rows and totals of one analyzed spec."""

    name: str
    description: str
    params: dict[str, Any]
    inputs: dict[str, tuple[Value, ...]]
    outputs: dict[str, tuple[Value, ...]]
    layers: tuple[LayerRow, ...]
    totals: dict[str, Value] = field(default_factory=dict)

    @classmethod
    def build(cls, name, description, params, inputs, outputs, layers) -> "Report":
        """A report with totals summed over its rows."""
        totals = {key: total(getattr(row, key) for row in layers) for key in TOTAL_KEYS}
        return cls(name, description, params, inputs, outputs, tuple(layers), totals)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: integers when bound, expression strings otherwise."""
        return {
            "name": self.name,
            "params": {k: _json_value(v) for k, v in self.params.items()},
            "inputs": {k: _json_shape(s) for k, s in self.inputs.items()},
            "outputs": {k: _json_shape(s) for k, s in self.outputs.items()},
            "totals": {k: _json_value(v) for k, v in self.totals.items()},
            "layers": [
                {
                    "name": row.name,
                    "type": row.type,
                    "input_shapes": [_json_shape(s) for s in row.input_shapes],
                    "output_shape": _json_shape(row.output_shape),
                    "params": _json_value(row.params),
                    "buffers": _json_value(row.buffers),
                    "macs": _json_value(row.macs),
                    "flops": _json_value(row.flops),
                }
                for row in self.layers
            ],
        }


def _json_value(value: Any) -> Any:
    value = as_plain(value)
    if isinstance(value, int) or value is None:
        return value
    if isinstance(value, Fraction):
        return float(value)  # a param such as a width multiplier 0.5
    return str(value)


def _json_shape(shape: tuple[Value, ...]) -> list[Any]:
    return [_json_value(d) for d in shape]
