"""The result of an analysis: plain data, formatted elsewhere (archspec.formats)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from archspec.dims import Value, as_plain, total
from archspec.errors import ArchspecError

TOTAL_KEYS = ("params", "active_params", "buffers", "macs", "flops", "activations")
ROW_MEMORY_KEYS = ("kv_cache", "kv_cache_read", "weights_read")  # per-row counts the memory model reads


@dataclass(frozen=True, slots=True)
class Storage:
    """A block of memory holding one or more tensors (views share one): its elements, their
    dtype ("activation" for the dtype activations are computed in), and whether it is a
    parameter. `times` > 1 under a repeat whose count is a free symbol. `device`: kept only
    by that device's kernel (a saved tensor; None for every device)."""

    numel: Value
    dtype: str
    parameter: bool = False
    times: Value = 1
    device: str | None = None
    split: bool | None = None  # a layer's own tensor split by tensor parallelism (None: as the layer's output)
    core: bool = False  # an attention core tensor (dropped by selective recomputation)


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One analyzed layer (or, collapsed, one block): its place, shapes and counts.

    `path` names the row from the top level down (`("layer3", "1", "conv2d_0")`) and
    `types` gives the type at each level (`("BasicBlock", "BasicBlock", "Conv2d")`).
    A row under a repeat whose count stays a free symbol stands for `times`
    applications (path component `*`); its counts are already multiplied.
    """

    path: tuple[str, ...]
    types: tuple[str, ...]
    input_shapes: tuple[tuple[Value, ...], ...]
    output_shapes: tuple[tuple[Value, ...], ...]
    params: Value
    active_params: Value  # params one token touches: all but the routed experts it does not use
    buffers: Value
    macs: Value
    flops: Value
    activations: Value  # elements of the output tensor(s), times `times`
    times: Value = 1
    shares: str | None = None  # the layer whose weight this one uses (not counted again)
    experts: tuple[Value, Value] | None = None  # (num_experts, top_k) for a row of a routed expert
    buffer_dtype: str = "activation"  # the dtype of the row's buffers
    idle: bool = False  # in a decode step: does not run (its output comes from the prefill)
    # For the memory model (archspec.memory): which storages the layer reads, writes and
    # keeps for the backward pass, whether its output is a view at inference, and the
    # elements of its key/value cache.
    input_storages: tuple[int, ...] = ()
    output_storages: tuple[int, ...] = ()
    saved: tuple[int, ...] = ()
    view_at_inference: bool = False
    kv_cache: Value = 0
    kv_cache_read: Value = 0  # cache elements a decode step reads
    weights_read: Value = 0  # parameters a decode step reads
    layer: Any = field(default=None, compare=False, repr=False)  # the bound layer (for archspec.parallel)

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def type(self) -> str:
        return self.types[-1]

    @property
    def output_shape(self) -> tuple[Value, ...]:
        """The output's shape (the first output's, for a layer with several)."""
        return self.output_shapes[0]


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
    storages: tuple[Storage, ...] = ()
    output_storages: tuple[int, ...] = ()
    decode: bool = False  # one decode step (one new token per sequence, P tokens cached)
    warnings: tuple[str, ...] = ()  # located notes on the spec: branches whose output nothing reads

    @classmethod
    def build(cls, name, description, params, inputs, outputs, layers) -> "Report":
        """A report with totals summed over its rows."""
        totals = {key: total(getattr(row, key) for row in layers) for key in TOTAL_KEYS}
        return cls(name, description, params, inputs, outputs, tuple(layers), totals)

    def collapsed(self, depth: int) -> "Report":
        """One row per block at `depth` levels down (like torchinfo's depth); totals unchanged."""
        if depth < 1:
            raise ValueError(f"depth must be at least 1, found {depth}")
        groups: list[list[LayerRow]] = []
        for row in self.layers:
            key = row.path[:depth]
            if groups and groups[-1][0].path[:depth] == key:
                groups[-1].append(row)
            else:
                groups.append([row])
        return replace(self, layers=tuple(_merge_rows(group, depth) for group in groups))

    def subs(self, **values: Any) -> "Report":
        """The report with params given values (numbers or expressions), e.g. subs(B=32).

        Equal to analyzing with those params bound: every count is exact, and becomes
        an int when no free param is left.
        """
        from archspec.symbolic import symbol, to_sympy

        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ArchspecError(f"unknown params {unknown}; the report's params: {', '.join(self.params)}")
        for name, value in values.items():
            # a free param is a positive integer, as every dimension and count it enters is
            number = isinstance(value, (int, Fraction)) and not isinstance(value, bool)
            if isinstance(value, bool) or (number and (value != int(value) or value < 1)):
                raise ArchspecError(f"{name}={value}: a free param takes a positive integer (or an expression)")
            if not number and not hasattr(value, "free_symbols"):
                raise ArchspecError(f"{name}={value!r}: expected a positive integer or a sympy expression")
        mapping = {symbol(name): to_sympy(value) for name, value in values.items()}
        report = self.xreplace(mapping)
        report.check_shapes()
        params = {**report.params, **{name: as_plain(value) for name, value in values.items()}}
        return replace(report, params=params)

    def check_shapes(self) -> None:
        """Fail unless every tensor dimension that is a number is at least 1."""
        for row in self.layers:
            for shape in (*row.input_shapes, *row.output_shapes):
                if any(isinstance(d, int) and d < 1 for d in shape):
                    raise ArchspecError(f"{row.name}: the shape [{', '.join(map(str, shape))}] has an empty dimension at these values")

    def xreplace(self, mapping: dict[Any, Any]) -> "Report":
        """Every value with sympy symbols replaced by `mapping` (symbol -> expression)."""

        def swap(value: Any) -> Any:
            if hasattr(value, "xreplace"):
                return as_plain(value.xreplace(mapping))
            return value

        def swap_shape(shape):
            return tuple(swap(d) for d in shape)

        rows = [
            replace(
                row,
                input_shapes=tuple(swap_shape(s) for s in row.input_shapes),
                output_shapes=tuple(swap_shape(s) for s in row.output_shapes),
                **{key: swap(getattr(row, key)) for key in (*TOTAL_KEYS, "times", *ROW_MEMORY_KEYS)},
            )
            for row in self.layers
        ]
        return replace(
            self,
            storages=tuple(replace(st, numel=swap(st.numel), times=swap(st.times)) for st in self.storages),
            params={k: swap(v) for k, v in self.params.items()},
            inputs={k: swap_shape(s) for k, s in self.inputs.items()},
            outputs={k: swap_shape(s) for k, s in self.outputs.items()},
            layers=tuple(rows),
            totals={k: swap(v) for k, v in self.totals.items()},
        )

    def lambdify(self, names: list[str] | str, metrics: tuple[str, ...] | str = TOTAL_KEYS):
        """A vectorized function of the named params: f(*arrays) -> {metric: numpy array}.

        Exact at every magnitude (archspec.vectorized): int64 arrays where every value
        fits, otherwise object arrays of Python ints; floor divisions stay exact. Every
        other param must be bound, and the arrays must hold whole numbers.
        """
        from archspec.vectorized import exact_function

        names = [names] if isinstance(names, str) else list(names)
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        unknown = [m for m in metrics if m not in self.totals]
        if unknown:
            raise ArchspecError(f"unknown metric(s) {unknown}; the report's totals: {', '.join(self.totals)}")
        try:
            function = exact_function(names, [self.totals[metric] for metric in metrics])
        except ValueError as exc:
            raise ArchspecError(str(exc)) from None

        def evaluate(*arrays):
            try:
                results = function(*arrays)
            except ValueError as exc:
                raise ArchspecError(str(exc)) from None
            return dict(zip(metrics, results))

        return evaluate

    def __repr__(self) -> str:
        free = sorted({str(s) for v in self.totals.values() for s in getattr(v, "free_symbols", ())})
        counts = ", ".join(f"{key} {_short(self.totals[key])}" for key in ("params", "macs", "flops"))
        return f"<Report {self.name}: {len(self.layers)} layers, {counts}" + (f"; free: {', '.join(free)}>" if free else ">")

    # Notebook displays: formatting is a thin layer over the report (archspec.formats).
    def _repr_html_(self) -> str:
        from archspec.formats import to_html

        return to_html(self)

    def _repr_markdown_(self) -> str:
        from archspec.formats import to_markdown

        return to_markdown(self)

    def to_pandas(self):
        """The per-layer rows as a pandas DataFrame (pandas is optional: pip install pandas)."""
        try:
            import pandas
        except ImportError:
            raise ArchspecError("Report.to_pandas needs pandas: pip install pandas") from None
        from archspec.formats import to_records

        return pandas.DataFrame(to_records(self))

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
                    "output_shapes": [_json_shape(s) for s in row.output_shapes],
                    "params": _json_value(row.params),
                    "active_params": _json_value(row.active_params),
                    "buffers": _json_value(row.buffers),
                    "macs": _json_value(row.macs),
                    "flops": _json_value(row.flops),
                    "activations": _json_value(row.activations),
                    **({"times": _json_value(row.times)} if row.times != 1 else {}),
                    **({"shares": row.shares} if row.shares else {}),
                    **({"idle": True} if row.idle else {}),
                }
                for row in self.layers
            ],
        }


def _short(value: Value) -> str:
    """A count for a one-line repr: grouped digits, or a formula cut at 60 characters."""
    value = as_plain(value)
    if isinstance(value, int):
        return f"{value:,}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge_rows(rows: list[LayerRow], depth: int) -> LayerRow:
    if len(rows) == 1 and len(rows[0].path) <= depth:
        return rows[0]
    first, last = rows[0], rows[-1]
    sums = {key: total(getattr(row, key) for row in rows) for key in (*TOTAL_KEYS, *ROW_MEMORY_KEYS)}
    return LayerRow(
        first.path[:depth], first.types[:depth], first.input_shapes, last.output_shapes, **sums, times=first.times,
        idle=all(row.idle for row in rows),
    )


def _json_value(value: Any) -> Any:
    value = as_plain(value)
    if isinstance(value, int) or value is None:
        return value
    if isinstance(value, Fraction):
        return float(value)  # a param such as a width multiplier 0.5
    return str(value)


def _json_shape(shape: tuple[Value, ...]) -> list[Any]:
    return [_json_value(d) for d in shape]
