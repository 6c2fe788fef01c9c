"""What every layer type is made of: typed arguments, a shape rule and its costs.

A layer type is a pydantic model whose fields are torch.nn's arguments. In a parsed
spec, numeric fields hold expressions (`archspec.expr.Expr`); `bind` evaluates them
under the params and returns a copy of the same class whose fields hold numbers (or
sympy expressions). The rules below run on that bound copy, as pure functions of the
arguments and the input shapes:

    output_shape(*inputs)          -> the output shape, exactly as PyTorch computes it
    param_count(*inputs)           -> learnable parameters
    buffer_count(*inputs)          -> non-learnable state (BatchNorm running stats)
    macs(*inputs, out=...)         -> multiply-accumulates
    other_flops(*inputs, out=...)  -> every FLOP that is not part of a MAC

FLOPs of a layer are 2 * macs + other_flops (see docs/counting.md).
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, Mapping, Sequence, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from archspec.dims import (
    Value,
    as_plain,
    definitely_different,
    definitely_equal,
    is_concrete,
)
from archspec.errors import ExprError, LayerError
from archspec.expr import Expr, parse

Shape = tuple[Value, ...]


@dataclass(frozen=True)
class Saved:
    """A tensor that autograd keeps from the forward pass for the backward pass: one of the
    layer's inputs, one of its outputs, or a tensor of its own (`numel` elements of `dtype`;
    "activation" means the dtype activations are computed in). `device` ("cpu" or "cuda")
    marks a tensor only that device's kernel keeps; None, every device. For parallel
    layouts (archspec.parallel): `split` says whether tensor parallelism divides a tensor
    of the layer's own across the ranks (None: as the layer's output is), and `core`
    marks the attention core's tensors that selective recomputation drops."""

    input: int | None = None
    output: int | None = None
    numel: Value = 0
    dtype: str = "activation"
    device: str | None = None
    split: bool | None = None
    core: bool = False


@dataclass(frozen=True)
class TensorParallel:
    """How tensor parallelism runs one layer application over tp ranks (archspec.parallel):

    - replicate: every rank runs the whole layer (a split input is gathered first);
    - elementwise: runs on split tensors as they are (the output is split when the inputs are);
    - column: a replicated input, the output split along its last dim (column-parallel Linear);
    - row: a split input, the output summed across ranks (row-parallel Linear);
    - heads: a replicated input, the work split by heads or channels, the output summed
      (attention, a Mamba mixer);
    - vocab: an embedding table split by rows, the output summed.

    `params` is what each rank holds."""

    kind: str
    params: Value


SAVES_INPUT = (Saved(input=0),)
SAVES_OUTPUT = (Saved(output=0),)


@dataclass(frozen=True)
class RealArg:
    """Marks a real-valued argument (a probability, an epsilon, a scale): its allowed range."""

    minimum: float | None = None
    maximum: float | None = None


def parse_real_arg(value: Any, marker: RealArg) -> Any:
    """A number or an expression over params, exact (0.1 is 1/10); an infinite float stays a float."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number or an expression, found {value!r}")
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("expected a number, found nan")
        if math.isinf(value):
            return value  # -inf for a masked fill: used, never computed with
        value = repr(value)
    try:
        expr = parse(value)
    except ExprError as exc:
        raise ValueError(str(exc)) from None
    if not expr.names():  # a literal: check it now, where the error is located
        check_real_range(expr.evaluate({}), marker, expr.source)
    return expr


def check_real_range(value: Any, marker: RealArg, source: str) -> None:
    if marker.minimum is not None and value < marker.minimum:
        raise ValueError(f"must be at least {marker.minimum:g}, found {source}")
    if marker.maximum is not None and value > marker.maximum:
        raise ValueError(f"must be at most {marker.maximum:g}, found {source}")


def _real_validator(marker: RealArg):
    def validate(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(parse_real_arg(item, marker) for item in value)
        return parse_real_arg(value, marker)

    return AfterValidator(validate)


def real(minimum: float | None = None, maximum: float | None = None, lists: bool = False) -> Any:
    """The type of a real-valued argument: a number or an expression over params (or a list of them)."""
    marker = RealArg(minimum, maximum)
    accepted = Union[StrictInt, float, str, list[Union[StrictInt, float, str]]] if lists else Union[StrictInt, float, str]
    return Annotated[accepted, _real_validator(marker), marker]


@dataclass(frozen=True)
class IntArg:
    """Marks an integer argument: its least allowed value, and whether it is per spatial dim."""

    minimum: int
    per_dim: bool = False
    allow_none_items: bool = False
    lists: bool = False  # the field also takes a list (one value per dim or per item)


def parse_int_arg(value: Any, minimum: int) -> Expr:
    try:
        expr = parse(value)
    except ExprError as exc:
        raise ValueError(str(exc)) from None
    if expr.is_literal and expr.tree.value < minimum:
        raise ValueError(f"must be at least {minimum}, found {expr.tree.value}")
    return expr


def _size_validator(minimum: int):
    return AfterValidator(lambda value: parse_int_arg(value, minimum))


def _sizes_validator(minimum: int):
    def validate(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(None if item is None else parse_int_arg(item, minimum) for item in value)
        return parse_int_arg(value, minimum)

    return AfterValidator(validate)


Scalar = Union[StrictInt, str]

# Argument types. In a parsed spec they hold Expr; on a bound layer, numbers.
Size = Annotated[Scalar, _size_validator(1), IntArg(1)]
Count = Annotated[Scalar, _size_validator(0), IntArg(0)]
SignedInt = Annotated[Scalar, _size_validator(-(2**62)), IntArg(-(2**62))]
Sizes = Annotated[Union[Scalar, list[Scalar]], _sizes_validator(1), IntArg(1, per_dim=True, lists=True)]
Counts = Annotated[Union[Scalar, list[Scalar]], _sizes_validator(0), IntArg(0, per_dim=True, lists=True)]
def int_list(minimum: int, description: str) -> Any:
    """The type of an argument that is a list of integer expressions (a shape)."""
    return Annotated[
        list[Scalar],
        AfterValidator(lambda items: tuple(parse_int_arg(item, minimum) for item in items)),
        IntArg(minimum),
        Field(min_length=1, description=description),
    ]


SizeOrList = Annotated[Union[Scalar, list[Scalar]], _sizes_validator(1), IntArg(1, lists=True)]
OptionalSizes = Annotated[
    Union[Scalar, None, list[Union[Scalar, None]]],
    _sizes_validator(1),
    IntArg(1, per_dim=True, allow_none_items=True, lists=True),
]
Dim = Annotated[StrictInt, Field(description="a tensor dimension index; negative counts from the end")]


_LAYER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def _layer_name(value: str) -> str:
    # `from:` refers to names (and name.K to outputs); names also reach tables, CSV, Markdown and terminals
    if not _LAYER_NAME.match(value):
        raise ValueError(f"a layer name is letters, digits and _ (not starting with a digit, at most 200), found {value!r}")
    return value


def _sources(value: Any) -> Any:
    return (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else value


class GraphFields(BaseModel):
    """The keys every entry of a `layers:` list may have, a layer or a block: where it sits in the graph."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)
    # a mixture of experts applies blocks of its own (its `blocks()`; engine.apply_moe); a class
    # attribute, as a missing one is a slow path of pydantic's attribute lookup
    routes_experts: ClassVar[bool] = False

    type: str
    name: Annotated[str, AfterValidator(_layer_name)] | None = Field(
        None,
        description="Unique name in its list (letters, digits and _, as `from:` refers to it); default: the lowercased "
        "type and a per-type counter.",
    )
    from_: Annotated[Union[str, list[str], None], AfterValidator(_sources)] = Field(
        None,
        alias="from",
        description="the output(s) consumed: a name, `name.K` for output K of a multi-output layer, or a list; "
        "default: the previous entry's output",
    )
    repeat: Count | None = Field(None, description="apply this entry N times in sequence (N may be a free symbol)")
    shares: str | None = Field(
        None, description="use the weight of an earlier layer (weight tying): its MACs count, its weight is not counted again"
    )
    training_only: bool = Field(
        False,
        description="runs only in training (an auxiliary classifier): its params count always, its forward cost and "
        "activations only when the analysis is of training (--training)",
    )


GRAPH_FIELDS = tuple(info.alias or name for name, info in GraphFields.model_fields.items())


CallStyle = Literal["module", "subclass", "function", "operator"]


class Layer(GraphFields):
    """Base of every layer type (see the module docstring)."""

    call: CallStyle | None = Field(
        None,
        description="how the PyTorch implementation runs this layer: module, subclass (of the torch.nn class), "
        "function (torch.*, F.*, a tensor method) or operator (a + b, a @ b); only counting conventions that "
        "mimic hook-based counters read it (docs/conventions.md)",
    )
    # The call style of the usual PyTorch implementation, when `call` is not given.
    default_call: ClassVar[str] = "module"

    # Length of per-dimension arguments (kernel_size, stride, ...); None for other layers.
    spatial_dims: ClassVar[int | None] = None
    # How many input tensors the layer takes: (least, most); most None = any number.
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    # Whether the output is a view of the first input (same storage, no new memory).
    view: ClassVar[bool] = False

    @model_validator(mode="after")
    def _check_per_dim_lengths(self) -> "Layer":
        if self.spatial_dims is None:
            return self
        for field_name, marker in int_fields(type(self)).items():
            value = getattr(self, field_name)
            if marker.per_dim and isinstance(value, tuple) and len(value) != self.spatial_dims:
                raise ValueError(
                    f"{field_name} has {len(value)} values [{', '.join(map(_show, value))}]; "
                    f"{self.type} needs {self.spatial_dims} (one per spatial dimension) or a single value"
                )
        return self

    def bind(self, env: Mapping[str, Any]) -> "Layer":
        """A copy whose expression fields are evaluated under `env` (param name -> value)."""
        values = dict(self.__dict__)
        for field_name, marker in int_fields(type(self)).items():
            value = values[field_name]
            # Strings left after validation are keywords such as padding="same".
            if value is not None and not isinstance(value, str):
                values[field_name] = self._bind_value(field_name, value, marker, env)
        for field_name, real_marker in real_fields(type(self)).items():
            value = values[field_name]
            if isinstance(value, tuple):
                values[field_name] = tuple(evaluate_real_arg(field_name, item, real_marker, env) for item in value)
            elif value is not None:
                values[field_name] = evaluate_real_arg(field_name, value, real_marker, env)
        return self._with_values(values)

    def _with_values(self, values: dict[str, Any]) -> "Layer":
        """A copy holding `values`, already valid: what model_construct does, without its per-field
        work (a 50,000-layer spec binds 50,000 layers; this is a seventh of the time)."""
        bound = type(self).__new__(type(self))
        object.__setattr__(bound, "__dict__", values)
        # the fields the spec set are the parsed layer's; its set is shared, not copied (a bound
        # layer is never assigned to, and pydantic's model_copy copies the set before adding to it)
        object.__setattr__(bound, "__pydantic_fields_set__", self.__pydantic_fields_set__)
        object.__setattr__(bound, "__pydantic_extra__", None)
        object.__setattr__(bound, "__pydantic_private__", None)
        return bound

    def _bind_value(self, field_name: str, value: Any, marker: IntArg, env: Mapping[str, Any]) -> Any:
        if isinstance(value, tuple):
            return tuple(None if item is None else evaluate_int_arg(field_name, item, marker, env) for item in value)
        number = evaluate_int_arg(field_name, value, marker, env)
        if isinstance(number, tuple):  # a list passed through a block argument
            if marker.per_dim and self.spatial_dims is not None and len(number) != self.spatial_dims:
                raise LayerError(
                    f"{field_name} has {len(number)} values [{', '.join(map(str, number))}] (from {value.source!r}); "
                    f"{self.type} needs {self.spatial_dims} (one per spatial dimension) or a single value"
                )
            return number
        if marker.per_dim and self.spatial_dims is not None:
            return (number,) * self.spatial_dims
        return number

    def input_count(self) -> tuple[int, int | None]:
        """How many input tensors this layer takes: (least, most); most None = any number."""
        return self.arity

    # ---- rules: overridden by each layer type ------------------------------------
    def output_shape(self, *inputs: Shape) -> Shape:
        """The output shape for these input shapes."""
        raise NotImplementedError

    def output_shapes(self, *inputs: Shape) -> tuple[Shape, ...]:
        """Every output's shape; one for all layers but those that split a tensor."""
        return (self.output_shape(*inputs),)

    def param_count(self, *inputs: Shape) -> Value:
        """Learnable parameters (weights, biases, affine parameters)."""
        return 0

    def saved_for_backward(self, *inputs: Shape, out: Shape) -> tuple[Saved, ...]:
        """What autograd keeps for the backward pass, as PyTorch's derivative formulas do."""
        return ()

    def cache_elements(self, *inputs: Shape) -> Value:
        """Elements an autoregressive decoder caches for later tokens (attention keys and values)."""
        return 0

    def internal_elements(self, *inputs: Shape) -> Value:
        """Activation elements a layer writes and reads inside itself, beyond its inputs and
        outputs (an eager attention's score matrices): memory traffic for the roofline."""
        return 0

    def weights_read(self, *inputs: Shape) -> Value:
        """Parameters one pass reads (all of them, unless some are not needed: a cached memory's projections)."""
        return self.param_count(*inputs)

    def cache_read_elements(self, *inputs: Shape) -> Value:
        """Cache elements a pass reads (the past keys and values of a decode step)."""
        return 0

    def in_decode_step(self, past: Value, live: tuple[bool, ...]) -> "Layer":
        """This layer as it runs to generate one token per sequence with `past` tokens
        cached; live[i] says whether input i is computed in the step (False: it comes from
        the encoder, whose outputs are cached)."""
        return self

    def is_view(self, training: bool) -> bool:
        """Whether the output shares the first input's storage (training: in train mode)."""
        return self.view

    def tensor_parallel(self, tp: Value, split: tuple[bool, ...], *inputs: Shape) -> TensorParallel:
        """How tensor parallelism splits this layer; `split[i]`: input i arrives split across the
        ranks (docs/parallel.md). Default: replicated (every rank runs the whole layer)."""
        return TensorParallel("replicate", self.param_count(*inputs))

    def weight_shape(self, *inputs: Shape) -> Shape | None:
        """The shape of the main weight, for layers whose weight can be shared (`shares:`)."""
        return None

    def buffer_count(self, *inputs: Shape) -> Value:
        """Non-learnable state kept with the module (running statistics)."""
        return 0

    def buffer_dtype(self, *inputs: Shape) -> str:
        """The dtype of the buffers: "activation" (the dtype the network computes in) unless fixed."""
        return "activation"

    def macs(self, *inputs: Shape, out: Shape) -> Value:
        """Multiply-accumulates of one forward pass."""
        return 0

    def other_flops(self, *inputs: Shape, out: Shape) -> Value:
        """Floating-point operations outside MACs (bias adds, activations, norms, pools)."""
        return 0

    # ---- helpers for rules ----------------------------------------------------------
    def check_inferred(self, field_name: str, inferred: Value) -> Value:
        """Check a given argument that follows from the input; return the inferred value."""
        given = getattr(self, field_name)
        if given is not None and definitely_different(given, inferred):
            raise LayerError(f"{field_name}={_show(given)} but the input gives {field_name}={_show(inferred)}")
        return inferred


@lru_cache(maxsize=None)
def int_fields(cls: type[Layer]) -> dict[str, IntArg]:
    """The integer (expression) arguments of a layer type, with their markers."""
    # Cached per class: bind() asks for every layer of every analysis.
    found = {}
    for field_name, info in cls.model_fields.items():
        marker = _find_marker(info.metadata, info.annotation)
        if marker is not None:
            found[field_name] = marker
    return found


@lru_cache(maxsize=None)
def real_fields(cls: type[Layer]) -> dict[str, RealArg]:
    """The real-valued (expression) arguments of a layer type, with their markers."""
    found = {}
    for field_name, info in cls.model_fields.items():
        marker = _find_marker(info.metadata, info.annotation, RealArg)
        if marker is not None:
            found[field_name] = marker
    return found


def _find_marker(metadata: Sequence[Any], annotation: Any, kind: type = IntArg) -> Any:
    for item in metadata:
        if isinstance(item, kind):
            return item
    # `Size | None` keeps the marker inside the union's Annotated member.
    for member in typing.get_args(annotation):
        marker = _find_marker(getattr(member, "__metadata__", ()), member, kind)
        if marker is not None:
            return marker
    return None


def evaluate_real_arg(field_name: str, value: Any, marker: RealArg, env: Mapping[str, Any]) -> Any:
    """Evaluate a real argument to an exact number (int or Fraction); a free param is an error."""
    if not isinstance(value, Expr):
        return value  # an infinite float
    try:
        number = value.evaluate(env)
    except ExprError as exc:
        raise LayerError(f"{field_name}: {exc}") from None
    if not isinstance(number, (int, Fraction)):
        raise LayerError(f"{field_name}={value.source!r} depends on a free param ({number}); bind it with --set to a number")
    try:
        check_real_range(number, marker, f"{number} (from {value.source!r})")
    except ValueError as exc:
        raise LayerError(f"{field_name} {exc}") from None
    return number


def evaluate_int_arg(field_name: str, expr: Expr, marker: IntArg, env: Mapping[str, Any]) -> Value:
    """Evaluate an integer argument; fail unless it is an integer of at least marker.minimum
    (a tuple of them when a block argument passes a list to a field that takes one)."""
    try:
        value = expr.evaluate(env)
    except ExprError as exc:
        raise LayerError(f"{field_name}: {exc}") from None
    if isinstance(value, tuple):
        if not marker.lists:
            raise LayerError(f"{field_name}={expr.source!r} is a list [{', '.join(map(str, value))}]; {field_name} takes one number")
        return tuple(None if item is None else _checked_int(field_name, item, marker, expr) for item in value)
    return _checked_int(field_name, value, marker, expr)


def _checked_int(field_name: str, value: Any, marker: IntArg, expr: Expr) -> Value:
    if isinstance(value, Fraction):
        raise LayerError(f"{field_name}={expr.source!r} evaluates to {value}, which is not an integer")
    if not isinstance(value, int) and getattr(value, "is_integer", None) is not True:
        raise LayerError(
            f"{field_name}={expr.source!r} is {value}, not an integer for every value of the params; "
            "use // or ceil(a/b) for integer division"
        )
    value = as_plain(value)
    if is_concrete(value) and value < marker.minimum:
        raise LayerError(f"{field_name} must be at least {marker.minimum}, found {value} (from {expr.source!r})")
    return value


def _show(value: Any) -> str:
    if isinstance(value, Expr):
        return value.source
    return str(value)


def format_shape(shape: Shape) -> str:
    """A shape as `[1, 3, 224, 224]`."""
    return "[" + ", ".join(str(as_plain(d)) for d in shape) + "]"


def expect_rank(x: Shape, ranks: Sequence[int], layout: str) -> None:
    """Fail with a clear message unless the input has one of the allowed ranks."""
    if len(x) not in ranks:
        allowed = " or ".join(f"{r}-D" for r in ranks)
        raise LayerError(f"expected a {allowed} input ({layout}), got a {len(x)}-D input")


def normalize_dim(dim: int, rank: int, field_name: str = "dim") -> int:
    """A possibly negative dimension index as a non-negative one, checked against the rank."""
    if not -rank <= dim < rank:
        raise LayerError(f"{field_name}={dim} is out of range for a {rank}-D input (expected {-rank}..{rank - 1})")
    return dim % rank


def exact_div(a: Value, b: Value, what: str) -> Value:
    """a / b where b must divide a; `what` names the two quantities for the error."""
    if is_concrete(a) and is_concrete(b):
        if a % b:
            raise LayerError(f"{what}: {a} is not divisible by {b}")
        return a // b
    quotient = a / b
    if getattr(quotient, "is_integer", None) is not True:
        raise LayerError(f"{what}: cannot tell that {a} is divisible by {b} for every value of the params")
    return as_plain(quotient)


def shard(a: Value, parts: Value, what: str) -> Value:
    """a / parts where parts must divide a (a layout splitting heads, experts); a free size is
    taken to divide it (the formula holds where it does)."""
    if is_concrete(a) and is_concrete(parts):
        return exact_div(a, parts, what)
    return as_plain(a / parts)


def broadcast_shapes(*shapes: Shape) -> Shape:
    """PyTorch's broadcasting: dims aligned from the right must be equal, or one of them 1."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    result = []
    for i, dims in enumerate(zip(*padded)):
        sizes = [d for d in dims if not (is_concrete(d) and d == 1)]
        size = sizes[0] if sizes else 1
        for other in sizes[1:]:
            if not definitely_equal(size, other):
                listed = " and ".join(format_shape(s) for s in shapes)
                reason = "differ" if definitely_different(size, other) else "may differ for some param values"
                raise LayerError(
                    f"cannot broadcast {listed}: at dim {i - rank} the sizes {size} and {other} {reason} (and neither is 1)"
                )
        result.append(size)
    return tuple(result)
