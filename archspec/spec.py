"""The spec format: a YAML document validated into typed graphs before any analysis.

    name, description
    params:  {NAME: number | expression | null}        # null stays a free symbol
    inputs:  {NAME: {shape: [dims...], dtype: float32}}
    blocks:  {TypeName: {args: {ARG: default | null}, inputs: [input], layers: [...]}}
    layers:  [ {type: Conv2d, out_channels: 16, name:, from:, repeat:} | "ReLU", ... ]
    outputs: [names]                                     # default: the last layer

`validate` turns the document into a `Model`: the top-level `Graph` and one `Graph` per
block, whose nodes hold validated layer models (or block calls) and resolved references.
Every problem found is reported together, with the file, line and column of the
offending value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from archspec.errors import ExprError, LayerError, Problem, SpecError, did_you_mean
from archspec.expr import FUNCTIONS, Expr, literal, parse
from archspec.layers import REGISTRY
from archspec.layers.base import GRAPH_FIELDS, GraphFields, Layer, Size, int_fields
from archspec.source import SpecSource, load_source

DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"^(?P<node>[A-Za-z_][A-Za-z0-9_]*)(?:\.(?P<output>[0-9]+))?$")


def _bare_name_to_layer(value: Any) -> Any:
    # `- ReLU` is shorthand for `- {type: ReLU}`.
    return {"type": value} if isinstance(value, str) else value


def _param_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {value}")
        try:
            return literal(repr(value), repr(value))  # the decimal the user wrote, exactly, size-checked
        except ExprError as exc:
            raise ValueError(str(exc)) from None
    try:
        return parse(value)
    except ExprError as exc:
        raise ValueError(str(exc)) from None


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, an expression or null, found {str(value).lower()}")
    if isinstance(value, list):
        for item in value:
            _not_a_boolean(item)
    return value


ParamValue = Annotated[
    Union[StrictInt, StrictFloat, StrictStr, None],  # strict: `k: true` is no number
    BeforeValidator(_not_a_boolean),
    AfterValidator(_param_value),
    Field(description="a number, an expression of earlier params, or null for a free symbol"),
]


def _arg_value(value: Any) -> Any:
    if isinstance(value, list):
        if not value or any(item is None for item in value):
            raise ValueError("a list argument needs one or more values, none of them null")
        return tuple(_param_value(item) for item in value)
    return _param_value(value)


ArgValue = Annotated[
    Union[StrictInt, StrictFloat, StrictStr, None, list[Union[StrictInt, StrictFloat, StrictStr, None]]],
    BeforeValidator(_not_a_boolean),
    AfterValidator(_arg_value),
    Field(description="a number, an expression, or a list of them passed to a layer's list field; null: required"),
]


def _check_identifiers(names: Any, what: str) -> Any:
    for name in names:
        if not _IDENTIFIER.match(str(name)):
            raise ValueError(f"{what} name {name!r} is not a valid name (letters, digits and _)")
        if name in FUNCTIONS:
            raise ValueError(f"{what} name {name!r} is taken by the function {name}()")
    return names


class InputSpec(BaseModel):
    """One input tensor: its shape in PyTorch layout and its dtype."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: list[Size] = Field(min_length=1, description="dims in PyTorch layout, e.g. [B, 3, H, W]")
    dtype: Literal[DTYPES] = "float32"
    requires_grad: bool = Field(
        False, description="whether the input needs a gradient (counted in the backward pass by --convention flopcounter)"
    )


class BlockSpec(BaseModel):
    """A reusable sub-network, used in `layers:` like a layer type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    args: dict[str, ArgValue] = Field(
        default_factory=dict, description="argument defaults (expressions of params and earlier args, or lists); null = required"
    )
    inputs: list[str] = Field(["input"], min_length=1, description="names of the block's input tensors")
    layers: list[Any] = Field(min_length=1, description="the block's layers; its output is the last one's")

    @field_validator("args")
    @classmethod
    def _check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        return _check_identifiers(args, "block argument")

    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, inputs: list[str]) -> list[str]:
        _check_identifiers(inputs, "block input")
        if len(set(inputs)) != len(inputs):
            raise ValueError(f"block inputs repeat a name: {inputs}")
        return inputs


class Spec(BaseModel):
    """A whole architecture spec (the document; `Model` is its validated graph form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "unnamed"
    description: str = ""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(min_length=1)
    blocks: dict[str, BlockSpec] = Field(default_factory=dict, description="reusable sub-networks by type name")
    # Validated one by one against their own type (see `validate`), so that only the
    # layer types a spec uses get their validators built: a fast start for the CLI.
    layers: list[Any] = Field(min_length=1, description="the layers, applied in sequence")
    outputs: list[str] | None = Field(None, min_length=1, description="the network's outputs; default: the last layer")
    decode_length: str = Field(
        "L", description="the param that is the generated sequence's length: a decode step binds it to 1 (default L)"
    )

    @field_validator("name", "description")
    @classmethod
    def _printable(cls, value: str, info) -> str:
        # names reach terminals, comments of generated Python, LaTeX and Markdown: no control characters
        allowed = "\n\t" if info.field_name == "description" else ""
        bad = next((c for c in value if (ord(c) < 32 or 127 <= ord(c) < 160) and c not in allowed), None)
        if bad is not None:
            raise ValueError(f"the {info.field_name} holds the control character {bad!r}; write printable text")
        if info.field_name == "name" and len(value) > 200:
            raise ValueError(f"the name is {len(value)} characters long; at most 200")
        return value

    @field_validator("params")
    @classmethod
    def _check_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        return _check_identifiers(params, "param")

    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, inputs: dict[str, Any]) -> dict[str, Any]:
        return _check_identifiers(inputs, "input")

    @field_validator("blocks")
    @classmethod
    def _check_blocks(cls, blocks: dict[str, Any]) -> dict[str, Any]:
        _check_identifiers(blocks, "block")
        for name in blocks:
            if REGISTRY.is_indexed(name):  # the index, without loading every layer module
                raise ValueError(f"block name {name!r} is already a layer type; choose another name")
        return blocks


class BlockCall(GraphFields):
    """One use of a block in a `layers:` list; its arguments are the extra keys."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ---- the validated graph form -------------------------------------------------------
@dataclass(frozen=True)
class Ref:
    """A reference to a tensor: a node's (or an input's) output, or output K of it."""

    node: str
    output: int | None = None

    def __str__(self) -> str:
        return self.node if self.output is None else f"{self.node}.{self.output}"


@dataclass(frozen=True)
class Node:
    """One entry of a layers list: a layer or a block call, with its resolved inputs."""

    name: str
    op: Layer | BlockCall
    sources: tuple[Ref, ...] | None  # None: the previous entry's output
    path: tuple[Any, ...]  # where the entry is in the YAML document
    where: str  # how errors name it: "layers[3] (conv2d_1, Conv2d)"

    @property
    def type(self) -> str:
        return self.op.type


@dataclass(frozen=True)
class Graph:
    """One scope: the spec's top level, or the body of a block."""

    block: str | None  # the block's name; None at the top level
    args: dict[str, Any]  # the block's arguments with defaults (None: required)
    inputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Ref, ...]


@dataclass(frozen=True)
class Model:
    """A validated spec: its params and inputs, the top-level graph, and the blocks."""

    spec: Spec
    main: Graph
    blocks: dict[str, Graph]
    warnings: tuple[Problem, ...] = ()  # dead branches: outputs nothing reads


def layer_names(layers: list[Any]) -> list[str]:
    """Each entry's name: its own `name`, or the lowercased type plus a per-type counter."""
    counters: dict[str, int] = {}
    names = []
    for layer in layers:
        layer = _bare_name_to_layer(layer)
        if isinstance(layer, dict):
            type_name, given = str(layer.get("type", "layer")), layer.get("name")
        else:
            type_name, given = "layer", None  # not a layer at all; only named in errors
        base = type_name.lower()
        index = counters.get(base, 0)
        counters[base] = index + 1
        names.append(str(given) if given is not None else f"{base}_{index}")
    return names


class Validated(NamedTuple):
    """A spec already parsed and validated: pass it wherever a spec goes to skip both (a sweep
    analyzes one spec many times)."""

    model: Model
    source: SpecSource


def validate(spec: Any) -> Validated:
    """Parse and validate a spec (path, YAML string, dict); raise SpecError listing every problem."""
    if isinstance(spec, Validated):
        return spec
    source = load_source(spec)
    if not isinstance(source.data, dict):
        raise SpecError(source.problem(f"a spec is a mapping with inputs and layers, found {type(source.data).__name__}"))
    try:
        parsed = Spec.model_validate(source.data)
    except ValidationError as exc:
        problems = [_problem(source, error) for error in exc.errors()]
        # Layer problems are worth reporting too when only the top level is wrong.
        if isinstance(source.data.get("layers"), list):
            raw_blocks = source.data.get("blocks")
            opaque = frozenset(map(str, raw_blocks)) if isinstance(raw_blocks, dict) else frozenset()
            _Parser(source, {}, opaque).graph(None, {}, _top_inputs(source.data), source.data["layers"], None, problems)
        raise SpecError(_unique(problems)) from None
    parser = _Parser(source, parsed.blocks)
    problems: list[Problem] = []
    blocks = {
        name: parser.graph(name, block.args, tuple(block.inputs), block.layers, None, problems)
        for name, block in parsed.blocks.items()
    }
    main = parser.graph(None, {}, tuple(parsed.inputs), parsed.layers, parsed.outputs, problems)
    problems += _block_cycles(blocks, source)
    if not problems:
        problems += _undefined_names(parsed, main, blocks, source)
    if problems:
        raise SpecError(_unique(problems))
    warnings = tuple(problem for graph in (*blocks.values(), main) for problem in _dead_branches(graph, source))
    return Validated(Model(parsed, main, blocks, warnings), source)


def _dead_branches(graph: Graph, source: SpecSource) -> list[Problem]:
    """Entries (and inputs) whose output no later entry reads and that are no output: a typo in
    `from:` otherwise silently counts a dangling branch."""
    read = {ref.node for ref in graph.outputs}
    previous = graph.inputs[0]
    for node in graph.nodes:
        no_input = isinstance(node.op, Layer) and node.op.input_count()[1] == 0
        if node.sources is None and not no_input:
            read.add(previous)
        read.update(ref.node for ref in node.sources or ())
        previous = node.name
    scope = f"block {graph.block}" if graph.block else "the network"
    problems = [
        source.problem(f"{node.name}'s output is never used (not read by a later entry, not an output of {scope})", node.path, node.where)
        for node in graph.nodes
        if node.name not in read
    ]
    for name in graph.inputs:
        if name not in read:
            path = ("blocks", graph.block, "inputs") if graph.block else ("inputs", name)
            problems.append(source.problem(f"input '{name}' of {scope} is never used", path))
    return problems


def _top_inputs(data: dict[str, Any]) -> tuple[str, ...]:
    inputs = data.get("inputs")
    return tuple(str(name) for name in inputs) if isinstance(inputs, dict) else ()


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def scope_label(block: str | None) -> str:
    return f"blocks.{block}." if block else ""


class _Parser:
    """Validates the entries of one layers list at a time into a Graph."""

    def __init__(self, source: SpecSource, blocks: dict[str, BlockSpec], opaque: frozenset[str] = frozenset()):
        self.source = source
        self.blocks = blocks
        self.opaque = opaque  # type names to skip silently

    def graph(self, block, args, inputs, raw_layers, outputs, problems) -> Graph:
        base = ("blocks", block, "layers") if block else ("layers",)
        names = layer_names(raw_layers)
        nodes, known = [], {name: -1 for name in inputs}
        for index, (raw, name) in enumerate(zip(raw_layers, names)):
            path = (*base, index)
            where = self._where(block, raw, index, name)
            op = self._entry(raw, path, where, problems)
            problem_count = len(problems)
            if name in known:
                what = "an input" if known[name] < 0 else f"{scope_label(block)}layers[{known[name]}]"
                problems.append(self.source.problem(f"layer name {name!r} is already used by {what}", (*path, "name"), where))
            elif "." in name or not name.strip():
                problems.append(self.source.problem(f"name {name!r} cannot be empty or contain '.'", (*path, "name"), where))
            if op is None:
                known.setdefault(name, index)
                continue
            sources = self._sources(op, raw, names, known, index, path, where, problems)
            if index == 0 and sources is None and self._arity(op)[1] != 0 and len(inputs) > 1:
                message = f"the first layer must say which input it takes with from: (inputs: {', '.join(inputs)})"
                problems.append(self.source.problem(message, path, where))
            if len(problems) == problem_count:
                self._check_arity(op, sources, path, where, problems)
            self._check_shares(op, names, known, index, path, where, problems)
            known.setdefault(name, index)
            nodes.append(Node(name, op, sources, path, where))
        return Graph(block, dict(args), tuple(inputs), tuple(nodes), self._outputs(outputs, names, known, problems))

    def _where(self, block: str | None, raw: Any, index: int, name: str) -> str:
        raw = _bare_name_to_layer(raw)
        type_name = raw.get("type") if isinstance(raw, dict) else None
        known = isinstance(type_name, str) and (type_name in self.blocks or type_name in REGISTRY)
        label = f"{scope_label(block)}layers[{index}]"
        return f"{label} ({name}, {type_name})" if known else f"{label} ({name})"

    def _entry(self, raw: Any, path, where: str, problems: list[Problem]) -> Layer | BlockCall | None:
        raw = _bare_name_to_layer(raw)
        type_name = raw.get("type") if isinstance(raw, dict) else None
        if type_name is not None and not isinstance(type_name, str):
            problems.append(self.source.problem(f"type must be a layer or block type name, found {type_name!r}", (*path, "type"), where))
            return None
        if type_name in self.opaque:
            return None  # a block whose own definition is invalid: reported there
        try:
            if type_name in self.blocks:
                return self._block_call(raw, path, where, problems)
            layer = parse_layer(raw, self.blocks)
            if layer.routes_experts:  # a mixture of experts names the blocks it applies
                count = len(problems)
                self._check_moe(layer, path, where, problems)
                return layer if len(problems) == count else None
            return layer
        except ValidationError as exc:
            problems += [self._layer_problem(error, path, where, type_name) for error in exc.errors()]
        except LayerError as exc:
            problems.append(self.source.problem(str(exc), path, where))
        return None

    def _block_call(self, raw: dict[str, Any], path, where: str, problems: list[Problem]) -> BlockCall | None:
        call = BlockCall.model_validate(raw)
        count = len(problems)
        args = {}
        for arg, value in call.args.items():
            if arg not in self.blocks[call.type].args:
                continue  # reported by _check_arguments
            try:
                args[arg] = _arg_value(value)
            except ValueError as exc:
                problems.append(self.source.problem(f"{arg}: {exc}", (*path, arg), where))
            if value is None:
                problems.append(self.source.problem(f"{arg}: a block argument needs a value, found null", (*path, arg), where))
        self._check_arguments(call.type, call.args, path, where, problems, GRAPH_FIELDS)
        if len(problems) > count:
            return None
        return BlockCall.model_construct(**{**{k: getattr(call, k) for k in GraphFields.model_fields}, **args})

    def _check_arguments(self, block: str, given, path, where: str, problems: list[Problem], also=()) -> None:
        """Problems with the arguments given to a block: unknown ones, missing required ones."""
        declared = self.blocks[block].args
        for arg in given:
            if arg not in declared:
                known = list(declared) + list(also)
                listed = f"(arguments: {', '.join(declared)})" if declared else "(it takes no arguments)"
                message = f"unknown argument '{arg}' for block {block}{did_you_mean(arg, known)} {listed}"
                problems.append(self.source.problem(message, (*path, arg), where, at_key=True))
        for arg, default in declared.items():
            if default is None and arg not in given:
                problems.append(self.source.problem(f"missing required argument '{arg}' for block {block}", path, where))

    def _check_moe(self, op: Any, path, where: str, problems: list[Problem]) -> None:
        """The blocks a mixture of experts applies exist, take one input, and get valid arguments."""
        keys = {"experts": ("expert", "expert_args"), "shared_experts": ("shared_expert", "shared_args")}
        for role, (name, args) in op.blocks().items():
            block_key, args_key = keys[role]
            if name not in self.blocks:
                message = f"{block_key}: unknown block {name!r}{did_you_mean(name, self.blocks)}"
                problems.append(self.source.problem(message, (*path, block_key), where))
                continue
            if len(self.blocks[name].inputs) != 1:
                message = f"{block_key}: the block {name} takes {len(self.blocks[name].inputs)} inputs; an expert takes one"
                problems.append(self.source.problem(message, (*path, block_key), where))
            self._check_arguments(name, args, (*path, args_key), where, problems)

    def _sources(self, op, raw, names, known, index, path, where, problems) -> tuple[Ref, ...] | None:
        if op.from_ is None:
            return None
        refs = []
        for i, text in enumerate(op.from_):
            from_path = (*path, "from", i) if isinstance(raw.get("from"), list) else (*path, "from")
            match = _REFERENCE.match(str(text))
            if match is None:
                message = f"from: {text!r} is not a name (a layer or input name, or name.K for output K)"
                problems.append(self.source.problem(message, from_path, where))
                continue
            ref = Ref(match["node"], None if match["output"] is None else int(match["output"]))
            if ref.node in known:
                refs.append(ref)
                continue
            if ref.node in names:
                later = names.index(ref.node)
                message = (
                    f"from: {ref.node!r} is {'this layer itself' if later == index else 'a later layer'}; "
                    "a layer can only consume earlier outputs (this would make a cycle)"
                )
            else:
                choices = list(known)
                message = f"from: unknown name {ref.node!r}{did_you_mean(ref.node, choices)} (known here: {', '.join(choices)})"
            problems.append(self.source.problem(message, from_path, where))
        return tuple(refs)

    def _check_shares(self, op, names, known, index, path, where, problems) -> None:
        if op.shares is None:
            return
        target = op.shares
        if isinstance(op, BlockCall):
            message = "shares: applies to a layer, not to a block"
        elif target in known and known[target] >= 0:
            return
        elif target in names and names.index(target) >= index:
            message = f"shares: {target!r} is not an earlier layer (a layer can only share an earlier layer's weight)"
        else:
            choices = [name for name, i in known.items() if i >= 0]
            message = f"shares: unknown layer {target!r}{did_you_mean(target, choices)}"
        problems.append(self.source.problem(message, (*path, "shares"), where))

    def _arity(self, op: Layer | BlockCall) -> tuple[int, int | None]:
        if isinstance(op, BlockCall):
            count = len(self.blocks[op.type].inputs)
            return count, count
        return op.input_count()

    def _check_arity(self, op, sources, path, where, problems) -> None:
        least, most = self._arity(op)
        count = 1 if sources is None else len(sources)
        if sources is None and most == 0:
            return
        if least <= count and (most is None or count <= most):
            return
        wanted = f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}"
        found = "the previous output only" if sources is None else f"{count} ({', '.join(map(str, sources))})"
        hint = "; name them with from: [a, b]" if least > 1 else ""
        given = " with the arguments given" if isinstance(op, Layer) and (least, most) != type(op).arity else ""
        problems.append(self.source.problem(f"{op.type} takes {wanted} input(s){given}, found {found}{hint}", path, where))

    def _outputs(self, outputs, names, known, problems) -> tuple[Ref, ...]:
        if outputs is None:
            return (Ref(names[-1]),) if names else ()
        refs = []
        for i, text in enumerate(outputs):
            match = _REFERENCE.match(str(text))
            if match is None or match["node"] not in known:
                hint = did_you_mean(str(text), known)
                problems.append(self.source.problem(f"outputs: unknown name {text!r}{hint}", ("outputs", i)))
                continue
            refs.append(Ref(match["node"], None if match["output"] is None else int(match["output"])))
        return tuple(refs)

    def _layer_problem(self, error: dict[str, Any], path, where: str, type_name: Any) -> Problem:
        loc = list(error["loc"])
        message = _layer_message(error, loc, type_name, self.blocks)
        return self.source.problem(message, (*path, *loc), where, at_key=error["type"] == "extra_forbidden")


def parse_layer(raw: Any, blocks: dict[str, Any] | None = None) -> Layer:
    """Validate one layer entry against its own type; ValidationError or LayerError on failure."""
    raw = _bare_name_to_layer(raw)
    if not isinstance(raw, dict):
        raise LayerError(f"a layer is a mapping with a 'type', or a bare type name, found {raw!r}")
    if "type" not in raw:
        raise LayerError("a layer needs a 'type' (e.g. {type: Conv2d, ...}) or is a bare type name (e.g. ReLU)")
    type_name = raw["type"]
    if type_name not in REGISTRY:
        known = [*REGISTRY, *(blocks or {})]
        raise LayerError(f"unknown layer or block type {type_name!r}{did_you_mean(str(type_name), known)}")
    return REGISTRY[type_name].model_validate(raw)


def _block_cycles(blocks: dict[str, Graph], source: SpecSource) -> list[Problem]:
    """A block that uses itself, directly or through others, would expand forever."""
    problems, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for node in blocks[name].nodes:
            for used in _blocks_used(node):
                if state.get(used) == "open":
                    cycle = " -> ".join([*trail[trail.index(used) :], used])
                    message = f"block {used} uses itself ({cycle}); blocks cannot be recursive"
                    problems.append(source.problem(message, node.path, node.where))
                elif used not in state:
                    visit(used, [*trail, used])
        state[name] = "done"

    for name in blocks:
        if name not in state:
            visit(name, [name])
    return problems


def _blocks_used(node: Node) -> list[str]:
    """The blocks a node applies: a block call's type, a mixture of experts' expert blocks."""
    if isinstance(node.op, BlockCall):
        return [node.type]
    return [name for name, _ in node.op.blocks().values()] if node.op.routes_experts else []


def _undefined_names(spec: Spec, main: Graph, blocks: dict[str, Graph], source: SpecSource) -> list[Problem]:
    """Every expression that names something not in scope (params read in order; block args)."""
    problems = []

    def check(expr: Any, known: list[str], path: tuple[Any, ...], where: str | None, kind: str = "params") -> None:
        if isinstance(expr, tuple):  # a list argument
            for i, item in enumerate(expr):
                check(item, known, (*path, i), where, kind)
            return
        if not isinstance(expr, Expr):
            return
        for name in sorted(expr.names() - set(known)):
            hint = did_you_mean(name, known)
            if name in spec.params and kind == "params":
                message = f"'{name}' is used in {expr.source!r} before it is declared (params are read in order)"
            else:
                listed = f" ({kind}: {', '.join(known)})" if known else " (the spec declares no params)"
                message = f"unknown name '{name}' in {expr.source!r}{hint}{listed}"
            problems.append(source.problem(message, path, where))

    declared: list[str] = []
    for name, value in spec.params.items():
        check(value, declared, ("params", name), None)
        declared.append(name)
    for input_name, tensor in spec.inputs.items():
        for i, dim in enumerate(tensor.shape):
            check(dim, declared, ("inputs", input_name, "shape", i), f"input '{input_name}'")

    for graph in (*blocks.values(), main):
        scope = list(declared)
        kind = "params"
        if graph.block is not None:
            kind = "params and block arguments"
            for arg, default in graph.args.items():
                check(default, scope, ("blocks", graph.block, "args", arg), f"block {graph.block}", kind)
                scope = [name for name in scope if name != arg] + [arg]
        for node in graph.nodes:
            if isinstance(node.op, BlockCall):
                values = {**node.op.args, "repeat": node.op.repeat}
                for arg, value in values.items():
                    check(value, scope, (*node.path, arg), node.where, kind)
                continue
            for field_name in int_fields(type(node.op)):
                value = getattr(node.op, field_name)
                for item in value if isinstance(value, tuple) else (value,):
                    check(item, scope, (*node.path, field_name), node.where, kind)
            if node.op.routes_experts:  # the arguments a mixture of experts passes to its blocks
                for (_, args), key in zip(node.op.blocks().values(), ("expert_args", "shared_args")):
                    for arg, value in args.items():
                        check(value, scope, (*node.path, key, arg), node.where, kind)
    return problems


def _problem(source: SpecSource, error: dict[str, Any]) -> Problem:
    """Turn one pydantic error on the document's top level into a located, readable problem."""
    loc = list(error["loc"])
    return source.problem(_message(error, loc), tuple(loc), at_key=error["type"] == "extra_forbidden")


def _field_label(loc: list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: dict[str, Any], loc: list[Any]) -> str:
    kind = error["type"]
    text = error["msg"].removeprefix("Value error, ")
    field = _field_label(loc)
    if kind == "missing":
        return f"missing required field '{loc[-1]}'"
    if kind == "extra_forbidden":
        known = _known_fields(loc[:-1])
        return f"unknown field '{loc[-1]}'{did_you_mean(str(loc[-1]), known)} (expected one of: {', '.join(known)})"
    return f"{field}: {text}" if field else text


def _known_fields(loc: list[Any]) -> list[str]:
    model: type[BaseModel] = Spec
    if loc and loc[0] == "inputs":
        model = InputSpec
    elif loc and loc[0] == "blocks":
        model = BlockSpec
    return list(model.model_fields)


def _layer_message(error: dict[str, Any], loc: list[Any], type_name: Any, blocks: dict[str, Any]) -> str:
    kind = error["type"]
    text = error["msg"].removeprefix("Value error, ")
    if not loc:
        return text  # a check across the layer's arguments
    argument = loc[0]
    label = f"block {type_name}" if type_name in blocks else str(type_name)
    if kind == "extra_forbidden":
        arguments = [info.alias or f for f, info in REGISTRY[type_name].model_fields.items() if f != "type"]
        return (
            f"unknown argument '{argument}' for {label}{did_you_mean(str(argument), arguments)} "
            f"(arguments: {', '.join(arguments)})"
        )
    if kind == "missing":
        return f"missing required argument '{argument}' for {label}"
    found = "" if kind == "value_error" else f" (found {error.get('input')!r})"
    return f"{_field_label(loc)}: {text}{found}"


SCHEMA_ID = "https://archspec.dev/schema/spec.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec format, for editors: each layer type with its own arguments
    (unknown keys, wrong types and integer literals below a field's minimum are refused); a
    block use is any other type name, except one that differs from a layer type only in case."""
    from archspec.layers.base import int_fields

    schema = Spec.model_json_schema()
    types = tuple(sorted(REGISTRY))
    layer = Union[
        Annotated[Union[tuple(REGISTRY[t] for t in types)], Field(discriminator="type")],
        Literal[types],
    ]
    layers = TypeAdapter(list[layer]).json_schema()
    definitions = schema.setdefault("$defs", {})
    definitions.update(layers.pop("$defs", {}))
    for type_name in types:
        _integer_minimums(definitions[REGISTRY[type_name].__name__], int_fields(REGISTRY[type_name]))
    block_call = definitions["BlockCall"] = BlockCall.model_json_schema()
    # a block's name: not a layer type in any letter case (`Conv2D` is a typo of Conv2d, not a block)
    block_call["properties"]["type"] = {
        "type": "string",
        "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        "not": {"pattern": "^(" + "|".join(_any_case(t) for t in types) + ")$"},
        "description": "the name of a block defined under blocks:",
    }
    items = {"anyOf": [layers["items"]["anyOf"][0], layers["items"]["anyOf"][1], {"$ref": "#/$defs/BlockCall"}]}
    entry = {"type": "array", "items": items, "minItems": 1, "description": "layers (or block uses), applied in sequence"}
    schema["properties"]["layers"] = entry
    definitions["BlockSpec"]["properties"]["layers"] = entry
    schema["title"] = "archspec spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def _integer_minimums(definition: dict[str, Any], markers: dict[str, Any]) -> None:
    """Integer literals of a field below its least allowed value fail in the editor too."""
    for field_name, marker in markers.items():
        prop = definition.get("properties", {}).get(field_name)
        for branch in _branches(prop):
            if branch.get("type") == "integer":
                branch["minimum"] = marker.minimum


def _branches(prop: Any):
    if not isinstance(prop, dict):
        return
    yield prop
    for key in ("anyOf", "oneOf"):
        for branch in prop.get(key, []):
            yield from _branches(branch)
    if isinstance(prop.get("items"), dict):
        yield from _branches(prop["items"])


def _any_case(name: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in name)


__all__ = ["Spec", "InputSpec", "BlockSpec", "Model", "Graph", "Node", "Ref", "BlockCall", "validate", "parse_layer"]
