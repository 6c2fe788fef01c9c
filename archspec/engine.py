"""Analysis: bind the params, walk the layers, infer shapes and count costs."""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Mapping

from archspec.dims import (
    as_plain,
    definitely_equal,
    is_concrete,
    product,
    to_exact,
)
from archspec.errors import (
    ExprError,
    LayerError,
    Problem,
    ShapeError,
    SpecError,
    did_you_mean,
)
from archspec.expr import Expr, check_size, literal, parse
from archspec.layers.base import IntArg, Layer, Saved, Shape, evaluate_int_arg, format_shape
from archspec.limits import Limits, applied
from archspec.report import ROW_MEMORY_KEYS, TOTAL_KEYS, LayerRow, Report, Storage
from archspec.rows import Counting, Scope, chosen_convention, dim_limit, idle_row, layer_counts, shared_row
from archspec.source import SpecSource
from archspec.spec import BlockCall, Graph, Model, Node, Ref, Spec, validate

if TYPE_CHECKING:
    from archspec.layers.moe import MoE  # loaded only by specs that use it

# a layer's place in the graph, which never changes what it costs
_PLACE_FIELDS = frozenset({"name", "from_", "repeat", "shares"})

_POSITIVE = IntArg(1)


def analyze(
    spec: Any,
    limits: Limits | None = None,
    convention: str | None = None,
    backward: bool = False,
    decode: bool = False,
    training: bool = False,
    **bindings: Any,
) -> Report:
    """Analyze a spec (a path, a YAML string or a dict) with params re-bound by `bindings`.

    A binding is a number, an expression string over the other params, or None to keep
    the param as a free symbol. `limits` raises the resource bounds (archspec.limits).
    `convention` counts MACs and FLOPs as another counter does (archspec.conventions);
    `backward` adds the backward pass to `flops`. `decode` counts one decode step: one new
    token per sequence against P cached tokens (the param P; docs/counting.md).
    `training` runs the branches marked `training_only` (an auxiliary classifier).
    """
    # an analysis allocates many small objects and frees none of them until it returns: the
    # cyclic collector finds nothing to free, and pausing it is a quarter of a large spec's time
    collecting = gc.isenabled()
    gc.disable()
    try:
        with applied(limits) as limits:  # the YAML reader and the expressions see them too
            model, source = validate(spec)
            return analyze_model(model, source, bindings, limits, convention, backward, decode, training)
    finally:
        if collecting:
            gc.enable()


def analyze_model(
    model: Model,
    source: SpecSource,
    bindings: Mapping[str, Any] | None = None,
    limits: Limits | None = None,
    convention: str | None = None,
    backward: bool = False,
    decode: bool = False,
    training: bool = False,
) -> Report:
    """Analyze an already validated spec."""
    with applied(limits) as limits:
        return _analyze_validated(model, source, bindings, limits, convention, backward, decode, training)


def _analyze_validated(
    model: Model,
    source: SpecSource,
    bindings: Mapping[str, Any] | None,
    limits: Limits,
    convention: str | None,
    backward: bool,
    decode: bool,
    training: bool,
) -> Report:
    spec = model.spec
    counting = chosen_convention(convention, backward)
    bindings = dict(bindings or {})
    if decode:
        bindings = decode_bindings(spec, source, bindings)
    past = bindings.pop(DECODE_PAST, None) if decode else None
    env = bind_params(spec, source, bindings)
    walk = _Walk(model, source, env, limits)
    walk.training = training
    inputs = {
        name: (walk.new_tensor(_input_shape(name, tensor, source, env, limits), tensor.dtype),)
        for name, tensor in spec.inputs.items()
    }
    if decode:
        env[DECODE_PAST] = walk.past = _decode_past(past, source, env)
        walk.live = {tensors[0].storage for name, tensors in inputs.items() if _generated(spec, name)}
    if counting is not None:
        walk.counting = Counting(
            counting,
            backward,
            # the backward pass stops at inputs that need no gradient
            frozenset(tensors[0].storage for name, tensors in inputs.items() if not spec.inputs[name].requires_grad),
            next(iter(inputs.values()))[0].shape[0],
        )
    values = walk.graph(model.main, env, inputs, ())
    # a branch marked training_only is no output of the inference forward (torchvision's
    # Inception returns the aux logits only in training)
    skipped = set() if training else {n.name for n in model.main.nodes if getattr(n.op, "training_only", False)}
    returned = [(i, ref) for i, ref in enumerate(model.main.outputs) if ref.node not in skipped]
    outputs = {}
    for i, ref in returned:
        shapes = values[ref.node]
        if ref.output is None and len(shapes) > 1 and spec.outputs is None:
            outputs.update({f"{ref.node}.{k}": t.shape for k, t in enumerate(shapes)})  # every piece of a split
            continue
        try:
            outputs[str(ref)] = walk.resolve(ref, values).shape
        except LayerError as exc:
            raise SpecError(source.problem(f"outputs: {exc}", ("outputs", i))) from None
    public_params = {name: as_plain(value) for name, value in env.items()}
    inputs_shapes = {name: tensors[0].shape for name, tensors in inputs.items()}
    output_storages = tuple(t.storage for _, ref in returned for t in values[ref.node])
    report = Report.build(spec.name, spec.description, public_params, inputs_shapes, outputs, walk.rows)
    warnings = tuple(str(problem) for problem in model.warnings)
    return replace(report, storages=tuple(walk.storages), output_storages=output_storages, decode=decode, warnings=warnings)


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor flowing through the graph: its shape and the storage it lives in (views share one)."""

    shape: Shape
    storage: int


Shapes = tuple[Tensor, ...]  # the outputs of one node (one tensor for all but Split/Chunk)


class _Walk:
    """Runs graphs in order: binds each node's arguments, infers shapes, records rows."""

    def __init__(self, model: Model, source: SpecSource, params: Mapping[str, Any], limits: Limits):
        self.model = model
        self.source = source
        self.params = params
        self.limits = limits
        self.counting: Counting | None = None  # set when a convention or the backward pass is asked for
        self.past: Any = None  # a decode step: the tokens already cached (None: a full forward pass)
        self.live: set[int] = set()  # a decode step: the storages computed in the step
        self.training = False  # whether branches marked training_only run
        self.skipping = 0  # > 0 inside a training_only branch that does not run
        self.rows: list[LayerRow] = []
        self.costs: dict = {}  # (bound layer, input shapes) -> its costs, computed once (_costs)
        self.storages: list[Storage] = []

    def new_storage(self, numel, dtype: str, parameter: bool = False, device: str | None = None, **flags) -> int:
        self.storages.append(Storage(as_plain(numel), dtype, parameter, device=device, **flags))
        return len(self.storages) - 1

    def new_tensor(self, shape: Shape, dtype: str = "activation", parameter: bool = False) -> Tensor:
        return Tensor(shape, self.new_storage(product(shape), dtype, parameter))

    def graph(self, graph: Graph, env: Mapping[str, Any], inputs: dict[str, Shapes], scope: Scope) -> dict[str, Shapes]:
        """Every node's outputs, by name, for one application of `graph`."""
        values = dict(inputs)
        weights: dict[str, Shape] = {}  # the weight shape of each layer, for `shares:`
        previous = Ref(graph.inputs[0])
        for node in graph.nodes:
            xs: tuple[Tensor, ...] = ()
            try:
                refs = (previous,) if node.sources is None else node.sources
                if isinstance(node.op, Layer) and node.sources is None and node.op.input_count()[1] == 0:
                    refs = ()  # a layer without inputs, such as Parameter
                xs = tuple(self.resolve(ref, values) for ref in refs)
                op = self.bind(node, env)
                skip = node.op.training_only and not self.training
                self.skipping += skip
                try:
                    values[node.name] = self.repeated(node, op, xs, scope, weights)
                finally:
                    self.skipping -= skip
            except LayerError as exc:
                label = "; input shape " if len(xs) == 1 else "; input shapes "
                shapes = label + ", ".join(format_shape(x.shape) for x in xs) if xs else ""
                raise ShapeError(self.problem(node, scope, f"{exc}{shapes}")) from None
            previous = Ref(node.name)
        return values

    def resolve(self, ref: Ref, values: dict[str, Shapes]) -> Tensor:
        outputs = values[ref.node]
        if ref.output is None:
            if len(outputs) != 1:
                raise LayerError(
                    f"{ref.node!r} has {len(outputs)} outputs; name one as "
                    + " or ".join(f"{ref.node}.{i}" for i in range(len(outputs)))
                )
            return outputs[0]
        if ref.output >= len(outputs):
            raise LayerError(f"{ref} names output {ref.output}, but {ref.node!r} has {len(outputs)} output(s)")
        return outputs[ref.output]

    def bind(self, node: Node, env: Mapping[str, Any]):
        op = node.op
        if isinstance(op, BlockCall):
            values = {name: _param_value(name, value, env) for name, value in op.args.items()}
            repeat = None if op.repeat is None else evaluate_int_arg("repeat", op.repeat, IntArg(0), env)
            return _BoundBlock(op.type, values, repeat)
        try:
            return op.bind(env)
        except ExprError as exc:
            raise LayerError(str(exc)) from None

    def repeated(self, node: Node, op, xs: tuple[Tensor, ...], scope: Scope, weights: dict[str, Shape]) -> Shapes:
        """Apply a node `repeat` times in sequence; a free repeat count multiplies one application.

        Each application's output feeds the first input of the next; the other inputs
        (a decoder's encoder output) are the same tensors every time."""
        count = 1 if op.repeat is None else op.repeat
        level = (*scope, (node.name, node.type))
        if count == 1:
            return self.apply(node, op, xs, level, weights)
        if is_concrete(count):
            if count > self.limits.max_repeat:
                raise LayerError(
                    f"repeat: {count} is more than the limit of {self.limits.max_repeat} "
                    "(raise it with --limit max_repeat=N if you mean it)"
                )
            outputs: Shapes = xs[:1]  # repeated 0 times: the first input passes through
            for i in range(count):
                feed = (*self._single(outputs, node), *xs[1:]) if i else xs
                outputs = self.apply(node, op, feed, (*level, (str(i), node.type)), weights)
            return outputs
        first, first_storage = len(self.rows), len(self.storages)
        outputs = self.apply(node, op, xs, (*level, ("*", node.type)), weights)
        out, x = outputs[0].shape, xs[0].shape
        if len(outputs) != 1 or len(out) != len(x) or not all(map(definitely_equal, out, x)):
            raise LayerError(
                f"repeat: {count} is a free symbol, so the repeated unit must keep its input shape "
                f"{format_shape(x)}, but it returns {' and '.join(format_shape(t.shape) for t in outputs)}; "
                "bind the param (--set) to unroll the repeats one by one"
            )
        self.scale_rows(first, first_storage, count, times=True)
        return outputs

    def scale_rows(self, first_row: int, first_storage: int, count: Any, times: bool = False, active: Any = None) -> None:
        """Multiply the counts of the rows (and the tensors) recorded since `first_row`.

        A free repeat: every count, `times` and every tensor `count` times. Routed experts:
        the weights `count` (num_experts) times, the active ones `active` (top_k) times."""
        keys = (*TOTAL_KEYS, *ROW_MEMORY_KEYS) if times else ("params", "buffers", "weights_read")
        for i in range(first_row, len(self.rows)):
            row = self.rows[i]
            scaled = {key: as_plain(count * getattr(row, key)) for key in keys}
            if times:
                scaled["times"] = as_plain(count * row.times)
            else:
                scaled["active_params"] = as_plain(active * row.active_params)
                scaled["experts"] = (count, active)
            self.rows[i] = replace(row, **scaled)
        if times:
            for i in range(first_storage, len(self.storages)):  # every application has its own tensors
                self.storages[i] = replace(self.storages[i], times=as_plain(count * self.storages[i].times))

    def _single(self, outputs: Shapes, node: Node) -> tuple[Tensor]:
        if len(outputs) != 1:
            raise LayerError(f"repeat feeds each application's output to the next, but {node.type} has {len(outputs)} outputs")
        return outputs

    def apply(self, node: Node, op, xs: tuple[Tensor, ...], level: Scope, weights: dict[str, Shape]) -> Shapes:
        """One application of a layer (one row), of a block (its rows), or of a mixture of experts."""
        if len(self.rows) >= self.limits.max_layers:
            raise LayerError(
                f"the network expands to more than {self.limits.max_layers} layers with blocks and repeats "
                "unrolled (raise the limit with --limit max_layers=N if you mean it)"
            )
        if isinstance(op, _BoundBlock):
            return self.apply_block(node, self.model.blocks[op.type], op, xs, level)
        if op.routes_experts:
            return self.apply_moe(node, op, xs, level)
        return self.apply_layer(node, op, xs, level, weights)

    def apply_block(self, node: Node, block: Graph, call: _BoundBlock, xs: tuple[Tensor, ...], level: Scope) -> Shapes:
        env = self.block_env(block, call, node, level)
        values = self.graph(block, env, {name: (x,) for name, x in zip(block.inputs, xs)}, level)
        return tuple(self.resolve(ref, values) for ref in block.outputs)

    def apply_moe(self, node: Node, op: MoE, xs: tuple[Tensor, ...], level: Scope) -> Shapes:
        """The gate, the expert block on the routed tokens (its weights num_experts times),
        the shared expert block on every token, and the combine (archspec.layers.moe)."""
        (routed,) = self.apply_layer(node, op, xs, (*level, ("gate", op.type)), {})
        blocks = op.blocks()
        first_row, first_storage = len(self.rows), len(self.storages)
        (expert_out,) = self.apply_expert(node, blocks["experts"], (routed,), level, xs[0].shape[-1], "experts")
        self.scale_rows(first_row, first_storage, op.num_experts, active=op.top_k)
        outputs = (expert_out,)
        if "shared_experts" in blocks:
            outputs += self.apply_expert(node, blocks["shared_experts"], xs[:1], level, xs[0].shape[-1], "shared_experts")
        return self.apply_layer(node, op.combine(xs[0].shape), outputs, (*level, ("combine", "MoECombine")), {})

    def apply_expert(self, node: Node, block_and_args, xs, level: Scope, width, role: str) -> Shapes:
        name, args = block_and_args
        block = self.model.blocks[name]
        env = self.params
        values = {arg: _param_value(arg, value, env) for arg, value in args.items()}
        outputs = self.apply_block(node, block, _BoundBlock(name, values, None), xs, (*level, (role, name)))
        if len(outputs) != 1 or not definitely_equal(outputs[0].shape[-1], width) or len(outputs[0].shape) != len(xs[0].shape):
            shapes = " and ".join(format_shape(t.shape) for t in outputs)
            raise LayerError(f"the {role.replace('_', ' ')} block {name} must return one tensor of width {width}, found {shapes}")
        return outputs

    def _costs(self, op: Layer, shapes: tuple[Shape, ...]):
        """Counts, weight shape, saved items and view flags of `op` on `shapes`: pure, so computed
        once per distinct (layer, shapes) of the analysis (a deep stack repeats a few layers)."""
        try:  # the layer's arguments, not its place in the graph (name, from, repeat, shares)
            key = (type(op), tuple(v for k, v in op.__dict__.items() if k not in _PLACE_FIELDS), shapes)
            cached = self.costs.get(key)
        except TypeError:  # a layer with an unhashable argument
            key, cached = None, None
        if cached is not None:
            return cached
        counts = layer_counts(op, shapes, self.limits)
        outs = counts["output_shapes"]
        out = outs[0] if len(outs) == 1 else outs
        cached = (counts, op.weight_shape(*shapes), tuple(op.saved_for_backward(*shapes, out=out)),
                  (op.is_view(training=True), op.is_view(training=False)))
        if key is not None:
            self.costs[key] = cached
        return cached

    def apply_layer(self, node: Node, op: Layer, xs: tuple[Tensor, ...], level: Scope, weights: dict[str, Shape]) -> Shapes:
        """One layer application: one row."""
        live = tuple(x.storage in self.live for x in xs)
        idle = (self.past is not None and not any(live)) or self.skipping > 0
        if self.past is not None and not idle:
            op = op.in_decode_step(self.past, live)
        shapes = tuple(x.shape for x in xs)
        counts, weight, saved_items, views = self._costs(op, shapes)
        if weight is not None:
            weights[node.name] = weight
        if views[0]:
            outputs = tuple(Tensor(shape, xs[0].storage) for shape in counts["output_shapes"])
        else:
            outputs = tuple(self.new_tensor(shape, parameter=not xs) for shape in counts["output_shapes"])
        saved = () if idle else tuple(self._saved_storage(item, xs, outputs) for item in saved_items)
        row = LayerRow(
            path=tuple(name for name, _ in level), types=tuple(type_name for _, type_name in level), **counts,
            input_storages=tuple(x.storage for x in xs), output_storages=tuple(t.storage for t in outputs),
            saved=saved, view_at_inference=views[1], layer=op,
        )
        if op.shares is not None:
            row = shared_row(row, op, weight, weights.get(op.shares))
        if self.counting is not None:
            row = self.counting.recount(row, op, tuple(x.storage for x in xs))
        if idle:
            row = idle_row(row)
        elif self.past is not None:
            self.live.update(t.storage for t in outputs)
        self.rows.append(row)
        return outputs

    def _saved_storage(self, item: Saved, xs: tuple[Tensor, ...], outputs: tuple[Tensor, ...]) -> int:
        if item.input is not None:
            return xs[item.input].storage
        if item.output is not None:
            return outputs[item.output].storage
        return self.new_storage(item.numel, item.dtype, device=item.device, split=item.split, core=item.core)

    def block_env(self, block: Graph, call: _BoundBlock, node: Node, level: Scope) -> dict[str, Any]:
        """The params, then the block's arguments: given at the call, else their defaults in order."""
        env = dict(self.params)
        for name, default in block.args.items():
            if name in call.args:
                env[name] = call.args[name]
            else:
                try:
                    env[name] = _param_value(name, default, env)
                except ExprError as exc:
                    raise LayerError(f"block {block.block} argument '{name}': {exc}") from None
        return env

    def problem(self, node: Node, scope: Scope, message: str) -> Problem:
        where = node.where
        if scope:
            where += f" at {'.'.join(name for name, _ in scope)}"
        return self.source.problem(message, node.path, where)


@dataclass(frozen=True)
class _BoundBlock:
    type: str
    args: dict[str, Any]
    repeat: Any


DECODE_PAST = "P"  # the param of a decode step: tokens already in the KV cache


def decode_bindings(spec: Spec, source: SpecSource, bindings: Mapping[str, Any]) -> dict[str, Any]:
    """The bindings of a decode step: the generated sequence's length (spec.decode_length) is 1,
    and P, the cached tokens, defaults to the length the spec (or a binding) gives it."""
    length = spec.decode_length
    if length not in spec.params:
        raise SpecError(
            source.problem(
                f"a decode step binds the generated sequence's length '{length}' to 1, but the spec has no param "
                f"'{length}'; name the length param with decode_length: NAME",
                ("decode_length",) if "decode_length" in (source.data or {}) else (),
            )
        )
    if DECODE_PAST in spec.params:
        raise SpecError(source.problem(f"a decode step adds the param {DECODE_PAST} (cached tokens); the spec declares its own", ("params", DECODE_PAST)))
    return {**bindings, length: 1, DECODE_PAST: bindings.get(DECODE_PAST, bindings.get(length, spec.params[length]))}


def _decode_past(value: Any, source: SpecSource, env: Mapping[str, Any]) -> Any:
    try:
        past = _param_value(DECODE_PAST, value, env)
    except ExprError as exc:
        raise SpecError(source.problem(f"param '{DECODE_PAST}' (cached tokens): {exc}")) from None
    if isinstance(past, Fraction) or (is_concrete(past) and past < 0):
        raise SpecError(source.problem(f"param '{DECODE_PAST}' (cached tokens) must be a whole number >= 0, found {past}"))
    return past


def _generated(spec: Spec, name: str) -> bool:
    """Whether a spec input holds the generated tokens (its shape uses the decode length)."""
    return any(spec.decode_length in dim.names() for dim in spec.inputs[name].shape if isinstance(dim, Expr))


def bind_params(spec: Spec, source: SpecSource, bindings: Mapping[str, Any]) -> dict[str, Any]:
    """Each param's value, in declaration order; `bindings` override the declared values."""
    unknown = [name for name in bindings if name not in spec.params]
    if unknown:
        known = list(spec.params)
        raise SpecError(
            [
                Problem(
                    f"cannot set unknown param '{name}'{did_you_mean(name, known)}"
                    + (f" (the spec's params: {', '.join(known)})" if known else " (the spec declares no params)"),
                    source.file,
                )
                for name in unknown
            ]
        )
    env: dict[str, Any] = {}
    for name, declared in spec.params.items():
        value = bindings[name] if name in bindings else declared
        try:
            env[name] = _param_value(name, value, env)
        except ExprError as exc:
            if name in bindings:
                message = (f"--set {name}={_shown(value)}: {exc}; a value is a number, an expression of the params declared "
                           f"before {name}, or null")
            else:
                message = f"param '{name}': {exc}"
            raise SpecError(source.problem(message, ("params", name))) from None
    return env


def _shown(value: Any) -> str:
    """A value for a message: a huge integer by its size (Python will not print 4,301 digits)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"<an integer of {value.bit_length():,} bits>"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _param_value(name: str, value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, tuple):  # a list block argument, passed to a layer's list field
        return tuple(_param_value(name, item, env) for item in value)
    if value is None:
        from archspec.symbolic import symbol

        return symbol(name)
    if isinstance(value, bool):
        raise ExprError(f"expected a number or an expression, found {value!r}")
    if isinstance(value, (int, Fraction)):
        return to_exact(check_size(value, f"{name}=..."))  # bounded before any use (a 4,301-digit int)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExprError(f"{name}={value}: expected a finite number")
        return to_exact(literal(repr(value), f"{name}={value!r}"))
    if isinstance(value, str):
        if value.strip().lower() in ("null", "none", "~"):
            return _param_value(name, None, env)
        value = parse(value)
    if isinstance(value, Expr):
        return value.evaluate(env)
    if hasattr(value, "free_symbols"):
        return value  # a sympy expression given through the Python API
    raise ExprError(f"expected a number or an expression, found {value!r}")


def _dim_limit(limits: Limits) -> str:
    return f"the limit of {limits.max_dim:,} (raise it with --limit max_dim=N if you mean it)"


def _input_shape(name: str, tensor: Any, source: SpecSource, env: Mapping[str, Any], limits: Limits) -> Shape:
    dims = []
    for i, dim in enumerate(tensor.shape):
        try:
            dims.append(evaluate_int_arg(f"shape[{i}]", dim, _POSITIVE, env))
            if is_concrete(dims[-1]) and dims[-1] > limits.max_dim:
                raise LayerError(f"shape[{i}] = {dims[-1]} is beyond {dim_limit(limits)}")
        except LayerError as exc:
            raise SpecError(source.problem(f"input '{name}': {exc}", ("inputs", name, "shape", i))) from None
    return tuple(dims)
