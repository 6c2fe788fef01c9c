"""The roofline of each layer on a device: FLOPs against bytes moved.

For a layer with M MACs and F FLOPs (archspec's counts), in dtype d on device D:

    compute time = 2M / (matmul peak(d) x e_matmul) + (F - 2M) / (vector peak(d) x e_vector)
    memory time  = bytes / (memory bandwidth x e_memory)
    time         = max(compute time, memory time)        (the bound: compute or memory)

bytes = inputs read + weights read + outputs written (+ the KV cache read in a decode
step, + what a layer moves inside itself: an eager attention's score matrices), each
tensor at its own dtype (activations in d); a view writes nothing. Arithmetic intensity
= F / bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.dims import Value, as_plain, maximum, total
from archspec.hardware import Device
from archspec.memory import MemoryOptions, _bytes, storage_bytes, weights_read
from archspec.report import LayerRow, Report


@dataclass(frozen=True)
class Efficiency:
    """Fractions of the peaks a real run reaches (docs/performance-model.md). Defaults: one
    set for every model; `--mfu` replaces the compute model by a stated utilization."""

    matmul: float = 0.65  # of the dense matrix peak
    vector: float = 0.5  # of the non-matrix peak
    memory: float = 0.8  # of the memory bandwidth
    link: float = 0.8  # of a link's bandwidth (collectives)
    tp_overlap: float = 0.0  # of tensor/sequence/context/expert-parallel traffic hidden behind compute
    dp_overlap: float = 0.0  # of data-parallel traffic hidden behind the backward pass

    def check(self) -> None:
        from archspec.errors import ArchspecError

        for name in ("matmul", "vector", "memory", "link"):
            if not 0 < getattr(self, name) <= 1:
                raise ArchspecError(f"--{name}-efficiency must be in (0, 1], found {getattr(self, name)}")
        for name in ("tp_overlap", "dp_overlap"):
            if not 0 <= getattr(self, name) <= 1:
                raise ArchspecError(f"--{name.replace('_', '-')} must be in [0, 1], found {getattr(self, name)}")


@dataclass(frozen=True)
class RooflineRow:
    """One layer on the device: its FLOPs, bytes, intensity, bound and time (seconds)."""

    name: str
    type: str
    flops: Value
    matmul_flops: Value
    bytes: Value
    compute_s: Any
    memory_s: Any

    @property
    def time_s(self) -> Any:
        return _max(self.compute_s, self.memory_s)

    @property
    def intensity(self) -> Any:
        return self.flops / self.bytes if self.bytes else float("inf")

    @property
    def bound(self) -> str:
        try:
            return "compute" if self.compute_s >= self.memory_s else "memory"
        except TypeError:
            return "depends"


def _max(a: Any, b: Any) -> Any:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b)
    return maximum(a, b)


def row_bytes(report: Report, row: LayerRow, options: MemoryOptions) -> Value:
    """Bytes a layer moves: its inputs read, weights read, outputs written, cache read."""
    if row.view_at_inference:
        return 0  # a view reads and writes nothing
    read = total(storage_bytes(report, s, options) for s in set(row.input_storages))
    written = total(storage_bytes(report, s, options) for s in set(row.output_storages))
    weights = _bytes(weights_read(row), options.dtype)
    cache = _bytes(row.kv_cache_read, options.dtype)
    inside = _bytes(row.times * row.layer.internal_elements(*row.input_shapes), options.dtype) if row.layer is not None else 0
    return as_plain(read + written + weights + cache + inside)


def roofline(report: Report, device: Device, dtype: str, efficiency: Efficiency | None = None) -> tuple[list[RooflineRow], dict[str, Any]]:
    """Each layer's roofline on `device` in `dtype`, and the totals (time = sum of the layers')."""
    efficiency = efficiency or Efficiency()
    options = MemoryOptions(training=False, dtype=dtype)
    matmul, vector = device.matmul_flops(dtype) * efficiency.matmul, device.vector_flops(dtype) * efficiency.vector
    bandwidth = device.memory_bandwidth * efficiency.memory
    rows = []
    for row in report.layers:
        if row.idle:
            continue
        mm = 2 * row.macs
        moved = row_bytes(report, row, options)
        rows.append(RooflineRow(row.name, row.type, row.flops, mm, moved, mm / matmul + (row.flops - mm) / vector, moved / bandwidth))
    totals = {
        "flops": total(r.flops for r in rows),
        "bytes": total(r.bytes for r in rows),
        "compute_s": _sum(r.compute_s for r in rows),
        "memory_s": _sum(r.memory_s for r in rows),
        "time_s": _sum(r.time_s for r in rows),
    }
    return rows, totals


def _sum(values) -> Any:
    values = list(values)
    if all(isinstance(v, (int, float)) for v in values):
        return float(sum(values))
    import sympy

    return sympy.Add(*values)
