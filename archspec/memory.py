"""Memory: weights, gradients, optimizer state, saved activations, inference peak and KV cache.

    memory(report, MemoryOptions(training=True, dtype="bf16", optimizer="adamw"))

Every figure is bytes, exact (an int, or a formula in the free params), computed from an
analyzed Report: its params, and the storages each layer reads, writes and keeps for the
backward pass (archspec.engine). The rules are stated in docs/memory.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from archspec.dims import Value, as_plain, ceildiv, largest_sum, minimum, product, total
from archspec.errors import ArchspecError
from archspec.report import Report

BYTES: dict[str, Fraction | int] = {
    "fp64": 8, "float64": 8, "fp32": 4, "float32": 4, "tf32": 4, "fp16": 2, "float16": 2, "bf16": 2, "bfloat16": 2,
    "fp8": 1, "int8": 1, "uint8": 1, "int4": Fraction(1, 2), "int64": 8, "int32": 4, "bool": 1,
}
DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8", "int4", "fp64")
OPTIMIZER_STATES = {"none": 0, "sgd": 0, "sgd-momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}
KEYS = (
    "weights", "buffers", "gradients", "optimizer", "master_weights", "saved_activations",
    "inference_peak", "kv_cache", "training_total", "inference_total",
)
# a decode step (Report.decode): what one step reads from memory
DECODE_KEYS = ("weights_read", "kv_cache_read", "bytes_read")


class MemoryOptionsError(ArchspecError):
    """A memory request that cannot be answered (an unknown dtype or optimizer)."""


@dataclass(frozen=True)
class MemoryOptions:
    """What to count: training or inference, the dtypes, the optimizer, recomputation."""

    training: bool = True
    dtype: str = "fp32"  # weights and activations
    grad_dtype: str | None = None  # default: dtype
    optimizer: str = "adam"
    optimizer_dtype: str = "fp32"
    master_weights: str | None = "auto"  # fp32 copies under mixed precision; "none" to drop
    checkpointing: str = "none"  # or "per-block": only block inputs are kept
    device: str = "cuda"  # dropout masks: bytes on CUDA, the activation dtype on CPU
    layout: Any = None  # an archspec.parallel.Layout: per-device memory too (Memory.per_device)

    def check(self) -> None:
        for name in ("dtype", "grad_dtype", "optimizer_dtype"):
            value = getattr(self, name)
            if value is not None and value not in BYTES:
                raise MemoryOptionsError(f"{name}: unknown dtype {value!r}; choose from {', '.join(DTYPES)}")
        if self.optimizer not in OPTIMIZER_STATES:
            raise MemoryOptionsError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZER_STATES)}")
        if self.master_weights not in (None, "auto", "none", *BYTES):
            raise MemoryOptionsError(f"master_weights: expected a dtype, auto or none, found {self.master_weights!r}")
        if self.checkpointing not in ("none", "per-block"):
            raise MemoryOptionsError(f"checkpointing: expected none or per-block, found {self.checkpointing!r}")
        if self.device not in ("cuda", "cpu"):
            raise MemoryOptionsError(f"device: expected cuda or cpu, found {self.device!r}")

    @property
    def master_dtype(self) -> str | None:
        if self.master_weights in (None, "none") or not self.training:
            return None
        if self.master_weights == "auto":
            return "fp32" if BYTES[self.dtype] < 4 else None
        return self.master_weights


@dataclass
class Memory:
    """Bytes per component (KEYS) and per layer (saved activations, KV cache)."""

    totals: dict[str, Value]
    layers: list[dict[str, Any]] = field(default_factory=list)
    options: MemoryOptions = MemoryOptions()
    decode: dict[str, Value] | None = None  # DECODE_KEYS for a decode step's report
    per_device: Any = None  # archspec.parallel.ParallelMemory, with a layout


def _bytes(count: Value, dtype: str) -> Value:
    size = BYTES[dtype]
    # int4: two values per byte, a partly used last byte still taken
    return as_plain(count * size) if isinstance(size, int) else ceildiv(count, 2)


def storage_dtype(dtype: str, options: MemoryOptions) -> str:
    """The dtype of a stored tensor: activations in the chosen dtype, dropout masks per device,
    anything else (spec inputs, int64 indices) as declared."""
    if dtype == "activation":
        return options.dtype
    if dtype == "dropout_mask":
        return "bool" if options.device == "cuda" else options.dtype
    return dtype


def storage_bytes(report: Report, storage: int, options: MemoryOptions) -> Value:
    """Bytes of one storage, over every application of a free repeat; 0 for parameters and
    for tensors only another device's kernel keeps."""
    info = report.storages[storage]
    if info.parameter or (info.device is not None and info.device != options.device):
        return 0
    return as_plain(info.times * _bytes(info.numel, storage_dtype(info.dtype, options)))


def saved_activations(report: Report, options: MemoryOptions) -> tuple[Value, list[Value]]:
    """Bytes autograd keeps for backward, each storage once (the first layer that saves it owns it)."""
    owner: dict[int, int] = {}
    for index, row in enumerate(report.layers):
        for storage in row.saved:
            owner.setdefault(storage, index)
    per_layer: list[list[Value]] = [[] for _ in report.layers]
    for storage, index in owner.items():
        per_layer[index].append(storage_bytes(report, storage, options))
    return total(total(values) for values in per_layer), [total(values) for values in per_layer]


def checkpointed_activations(report: Report, options: MemoryOptions) -> Value:
    """Per-block recomputation: keep each top-level block's input (and what top-level layers
    save), and, during backward, one block's own saved tensors at a time (the largest)."""
    _, per_layer = saved_activations(report, options)
    kept, groups = [], {}
    for row, saved in zip(report.layers, per_layer):
        if len(row.path) == 1:
            kept.append(saved)
            continue
        # one segment per top-level block, or per application of a repeated one (h.0, h.1, ...)
        repeated = row.path[1].isdigit() or row.path[1] == "*"
        groups.setdefault(row.path[: 2 if repeated else 1], []).append((row, saved))
    for rows in groups.values():
        first = rows[0][0]
        kept += [storage_bytes(report, storage, options) for storage in first.input_storages[:1]]
    largest = largest_sum([saved for _, saved in rows] for rows in groups.values())
    return as_plain(total(kept) + largest)


def inference_peak(report: Report, options: MemoryOptions) -> Value:
    """The largest sum of live activation tensors during a forward pass without autograd: a
    tensor is live from the layer that writes it until the last layer that reads it (network
    outputs until the end); views allocate nothing."""
    alias: dict[int, int] = {}

    def root(storage: int) -> int:
        while storage in alias:
            storage = alias[storage]
        return storage

    for row in report.layers:
        if row.view_at_inference and row.input_storages:
            for storage in row.output_storages:
                if storage != row.input_storages[0]:
                    alias[storage] = row.input_storages[0]
    last_use: dict[int, int] = {}
    for index, row in enumerate(report.layers):
        for storage in row.input_storages:
            last_use[root(storage)] = index
    for storage in report.output_storages:
        last_use[root(storage)] = len(report.layers)
    # a view writes nothing: a network input that a late Flatten views is live from the start
    writers = [(index, row) for index, row in enumerate(report.layers) if not (row.view_at_inference and row.input_storages)]
    written = {root(s) for _, row in writers for s in row.output_storages}
    born = {root(s): -1 for row in report.layers for s in row.input_storages if root(s) not in written}
    for index, row in writers:
        for storage in row.output_storages:
            born.setdefault(root(storage), index)
    sizes = {storage: storage_bytes(report, storage, options) for storage in born}
    live = ([sizes[s] for s, start in born.items() if start <= index <= last_use.get(s, start)]
            for index in range(len(report.layers)))
    return largest_sum(live)


def weights_read(row) -> Value:
    """Parameters a decode step reads for one row: a routed expert's weights only for the
    experts its tokens use, at most one per routed token (T*k rows of the expert input)."""
    if row.experts is None:
        return row.weights_read
    experts, _ = row.experts
    routed = product(row.input_shapes[0][:-1])
    one = row.weights_read // experts if isinstance(experts, int) and isinstance(row.weights_read, int) else row.weights_read / experts
    return as_plain(one * minimum(experts, routed))


def decode_traffic(report: Report, options: MemoryOptions) -> dict[str, Value]:
    """Bytes one decode step reads: the weights of the layers that run and the KV cache of the
    past tokens (each read once; activations of one token are left out, docs/memory.md)."""
    weights = _bytes(total(weights_read(row) for row in report.layers if not row.idle), options.dtype)
    cache = _bytes(total(row.kv_cache_read for row in report.layers), options.dtype)
    return {"weights_read": weights, "kv_cache_read": cache, "bytes_read": as_plain(weights + cache)}


def memory(report: Report, options: MemoryOptions | None = None) -> Memory:
    """The memory breakdown of an analyzed network (see the module docstring)."""
    options = options or MemoryOptions()
    options.check()
    params = report.totals["params"]
    weights = _bytes(params, options.dtype)
    buffer_bytes = total(_bytes(row.buffers, storage_dtype(row.buffer_dtype, options)) for row in report.layers if row.buffers)
    saved, per_layer = saved_activations(report, options) if options.training else (0, [0] * len(report.layers))
    if options.training and options.checkpointing == "per-block":
        saved = checkpointed_activations(report, options)
    training = options.training
    gradients = _bytes(params, options.grad_dtype or options.dtype) if training else 0
    optimizer = OPTIMIZER_STATES[options.optimizer] * _bytes(params, options.optimizer_dtype) if training else 0
    master = _bytes(params, options.master_dtype) if options.master_dtype else 0
    kv_cache = _bytes(total(row.kv_cache for row in report.layers), options.dtype)
    peak = inference_peak(report, options)
    totals = {
        "weights": weights,
        "buffers": buffer_bytes,
        "gradients": gradients,
        "optimizer": as_plain(optimizer),
        "master_weights": master,
        "saved_activations": saved,
        "inference_peak": peak,
        "kv_cache": kv_cache,
        "training_total": as_plain(weights + buffer_bytes + gradients + optimizer + master + saved) if training else 0,
        "inference_total": as_plain(weights + buffer_bytes + peak + kv_cache),
    }
    layers = [
        {"name": row.name, "type": row.type, "saved_activations": value, "kv_cache": _bytes(row.kv_cache, options.dtype)}
        for row, value in zip(report.layers, per_layer)
    ]
    per_device = None
    if options.layout is not None and training:
        from archspec.parallel import parallel_memory

        per_device = parallel_memory(report, options, options.layout)
    return Memory(totals, layers, options, decode_traffic(report, options) if report.decode else None, per_device)


from archspec.callable_module import make_callable  # noqa: E402

make_callable(__name__, "memory")  # archspec.memory(spec, ...) is archspec.api.memory
