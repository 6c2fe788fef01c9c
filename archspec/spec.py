"""The spec format: pydantic models that a YAML document is validated into.

    name, description
    params:  {NAME: number | expression | null}        # null stays a free symbol
    inputs:  {NAME: {shape: [dims...], dtype: float32}}
    layers:  [ {type: Conv2d, out_channels: 16, ...} | "ReLU", ... ]

Validation problems are reported together, each with the file, line and column of
the offending value (see `validate`).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError, field_validator

from archspec.errors import ExprError, LayerError, Problem, SpecError, did_you_mean
from archspec.expr import FUNCTIONS, Expr, parse
from archspec.layers import REGISTRY
from archspec.layers.base import Layer, Size, int_fields
from archspec.source import SpecSource, load_source

DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _bare_name_to_layer(value: Any) -> Any:
    # `- ReLU` is shorthand for `- {type: ReLU}`.
    return {"type": value} if isinstance(value, str) else value


def _param_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        return Fraction(str(value))  # the decimal the user wrote, exactly
    try:
        return parse(value)
    except ExprError as exc:
        raise ValueError(str(exc)) from None


ParamValue = Annotated[
    Union[StrictInt, float, str, None],
    AfterValidator(_param_value),
    Field(description="a number, an expression of earlier params, or null for a free symbol"),
]


class InputSpec(BaseModel):
    """One input tensor: its shape in PyTorch layout and its dtype."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: list[Size] = Field(min_length=1, description="dims in PyTorch layout, e.g. [B, 3, H, W]")
    dtype: Literal[DTYPES] = "float32"


class Spec(BaseModel):
    """A whole architecture spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "unnamed"
    description: str = ""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(min_length=1)
    # Validated one by one against their own type (see `validate`), so that only the
    # layer types a spec uses get their validators built: a fast start for the CLI.
    layers: list[Any] = Field(min_length=1, description="the layers, applied in sequence")

    @field_validator("params")
    @classmethod
    def _check_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if not _IDENTIFIER.match(str(name)):
                raise ValueError(f"param name {name!r} is not a valid name (letters, digits and _)")
            if name in FUNCTIONS:
                raise ValueError(f"param name {name!r} is taken by the function {name}()")
        return params

    @field_validator("inputs")
    @classmethod
    def _one_input(cls, inputs: dict[str, InputSpec]) -> dict[str, InputSpec]:
        if len(inputs) != 1:
            raise ValueError(f"expected exactly one input, found {len(inputs)} ({', '.join(inputs)})")
        return inputs

    @property
    def input_name(self) -> str:
        return next(iter(self.inputs))


def layer_names(layers: list[Any]) -> list[str]:
    """Each layer's name: its own `name`, or the lowercased type plus a per-type counter."""
    counters: dict[str, int] = {}
    names = []
    for layer in layers:
        if isinstance(layer, Layer):
            type_name, given = layer.type, layer.name
        elif isinstance(layer, dict):
            type_name, given = str(layer.get("type", "layer")), layer.get("name")
        elif isinstance(layer, str):
            type_name, given = layer, None
        else:
            type_name, given = "layer", None  # not a layer at all; only named in errors
        base = type_name.lower()
        index = counters.get(base, 0)
        counters[base] = index + 1
        names.append(str(given) if given is not None else f"{base}_{index}")
    return names


def validate(spec: Any) -> tuple[Spec, SpecSource]:
    """Parse and validate a spec (path, YAML string, dict); raise SpecError listing every problem."""
    source = load_source(spec)
    if not isinstance(source.data, dict):
        raise SpecError(source.problem(f"a spec is a mapping with inputs and layers, found {type(source.data).__name__}"))
    problems = []
    try:
        parsed = Spec.model_validate(source.data)
    except ValidationError as exc:
        problems += [_problem(source, error) for error in exc.errors()]
        parsed = None
    raw_layers = source.data.get("layers")
    layers = []
    if isinstance(raw_layers, list):
        for index, raw in enumerate(raw_layers):
            try:
                layers.append(parse_layer(raw))
            except ValidationError as exc:
                problems += [_problem(source, {**error, "loc": ("layers", index, *error["loc"])}) for error in exc.errors()]
            except LayerError as exc:
                problems.append(source.problem(str(exc), ("layers", index), _where(raw_layers, index)))
        problems += _duplicate_names(raw_layers, source)
    if problems:
        raise SpecError(problems)
    parsed = parsed.model_copy(update={"layers": layers})
    problems = _undefined_names(parsed, source)
    if problems:
        raise SpecError(problems)
    return parsed, source


def parse_layer(raw: Any) -> Layer:
    """Validate one layer entry against its own type; ValidationError or LayerError on failure."""
    raw = _bare_name_to_layer(raw)
    if not isinstance(raw, dict):
        raise LayerError(f"a layer is a mapping with a 'type', or a bare type name, found {raw!r}")
    if "type" not in raw:
        raise LayerError("a layer needs a 'type' (e.g. {type: Conv2d, ...}) or is a bare type name (e.g. ReLU)")
    type_name = raw["type"]
    if type_name not in REGISTRY:
        raise LayerError(f"unknown layer type {type_name!r}{did_you_mean(str(type_name), REGISTRY)}")
    return REGISTRY[type_name].model_validate(raw)


def _where(raw_layers: list[Any], index: int) -> str:
    raw = _bare_name_to_layer(raw_layers[index])
    type_name = raw.get("type") if isinstance(raw, dict) else None
    name = layer_names(raw_layers)[index]
    return f"layers[{index}] ({name}, {type_name})" if type_name in REGISTRY else f"layers[{index}] ({name})"


def _duplicate_names(raw_layers: list[Any], source: SpecSource) -> list[Problem]:
    problems, seen = [], {}
    for index, name in enumerate(layer_names(raw_layers)):
        if name in seen:
            message = f"layer name {name!r} is already used by layers[{seen[name]}]"
            problems.append(source.problem(message, ("layers", index, "name"), _where(raw_layers, index)))
        seen.setdefault(name, index)
    return problems


def _undefined_names(spec: Spec, source: SpecSource) -> list[Problem]:
    """Every expression that names something other than a param (declared earlier, for params)."""
    problems = []

    def check(expr: Any, known: list[str], path: tuple[Any, ...], where: str | None) -> None:
        if not isinstance(expr, Expr):
            return
        for name in sorted(expr.names() - set(known)):
            hint = did_you_mean(name, known)
            if name in spec.params:
                message = f"'{name}' is used in {expr.source!r} before it is declared (params are read in order)"
            else:
                listed = f" (params: {', '.join(known)})" if known else " (the spec declares no params)"
                message = f"unknown name '{name}' in {expr.source!r}{hint}{listed}"
            problems.append(source.problem(message, path, where))

    declared: list[str] = []
    for name, value in spec.params.items():
        check(value, declared, ("params", name), None)
        declared.append(name)
    for input_name, tensor in spec.inputs.items():
        for i, dim in enumerate(tensor.shape):
            check(dim, declared, ("inputs", input_name, "shape", i), f"input '{input_name}'")
    for index, (layer, name) in enumerate(zip(spec.layers, layer_names(spec.layers))):
        where = f"layers[{index}] ({name}, {layer.type})"
        for field_name in int_fields(type(layer)):
            value = getattr(layer, field_name)
            for item in value if isinstance(value, tuple) else (value,):
                check(item, declared, ("layers", index, field_name), where)
    return problems


def _problem(source: SpecSource, error: dict[str, Any]) -> Problem:
    """Turn one pydantic error into a located, readable problem."""
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "layers" and isinstance(loc[1], int) and "layers" in source.data:
        raw_layers = source.data["layers"]
        type_name = _bare_name_to_layer(raw_layers[loc[1]])["type"]
        return source.problem(_layer_message(error, loc, type_name), tuple(loc), _where(raw_layers, loc[1]))
    return source.problem(_message(error, loc), tuple(loc))


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
    return list(model.model_fields)


def _layer_message(error: dict[str, Any], loc: list[Any], type_name: str | None) -> str:
    kind = error["type"]
    text = error["msg"].removeprefix("Value error, ")
    if len(loc) == 2:
        return text  # a check across the layer's arguments
    argument = loc[2]
    arguments = [f for f in REGISTRY[type_name].model_fields if f != "type"]
    if kind == "extra_forbidden":
        return (
            f"unknown argument '{argument}' for {type_name}{did_you_mean(str(argument), arguments)} "
            f"(arguments: {', '.join(arguments)})"
        )
    if kind == "missing":
        return f"missing required argument '{argument}' for {type_name}"
    found = "" if kind == "value_error" else f" (found {error.get('input')!r})"
    return f"{_field_label(loc[2:])}: {text}{found}"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec format, for editors."""
    schema = Spec.model_json_schema()
    types = tuple(sorted(REGISTRY))
    layer = Union[Annotated[Union[tuple(REGISTRY[t] for t in types)], Field(discriminator="type")], Literal[types]]
    layers = TypeAdapter(list[layer]).json_schema()
    schema.setdefault("$defs", {}).update(layers.pop("$defs", {}))
    schema["properties"]["layers"] = {**layers, "minItems": 1, "description": "layers, applied in sequence"}
    schema["title"] = "archspec spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


__all__ = ["Spec", "InputSpec", "validate", "parse_layer", "layer_names", "json_schema"]
