"""Analysis: bind the params, walk the layers, infer shapes and count costs."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

from archspec.dims import Value, as_plain, is_concrete, to_exact
from archspec.errors import ExprError, LayerError, Problem, ShapeError, SpecError, did_you_mean
from archspec.expr import Expr, parse
from archspec.layers.base import IntArg, evaluate_int_arg, format_shape
from archspec.report import LayerRow, Report
from archspec.source import SpecSource
from archspec.spec import Spec, layer_names, validate

_POSITIVE = IntArg(1)


def analyze(spec: Any, **bindings: Any) -> Report:
    """Analyze a spec (a path, a YAML string or a dict) with params re-bound by `bindings`.

    A binding is a number, an expression string over the other params, or None to keep
    the param as a free symbol.
    """
    parsed, source = validate(spec)
    return analyze_spec(parsed, source, bindings)


def analyze_spec(spec: Spec, source: SpecSource, bindings: Mapping[str, Any] | None = None) -> Report:
    """Analyze an already validated spec."""
    env = bind_params(spec, source, bindings or {})
    x = input_shape = _input_shape(spec, source, env)
    rows = []
    for index, (layer, name) in enumerate(zip(spec.layers, layer_names(spec.layers))):
        where = f"layers[{index}] ({name}, {layer.type})"
        try:
            bound = layer.bind(env)
        except LayerError as exc:
            raise SpecError(source.problem(str(exc), ("layers", index), where)) from None
        try:
            rows.append(_analyze_layer(bound, name, x))
        except LayerError as exc:
            raise ShapeError(source.problem(f"{exc}; input shape {format_shape(x)}", ("layers", index), where)) from None
        x = rows[-1].output_shape
    public_params = {name: as_plain(value) for name, value in env.items()}
    return Report.build(spec.name, spec.description, public_params, {spec.input_name: input_shape}, {rows[-1].name: x}, rows)


def _analyze_layer(layer, name: str, x: tuple[Value, ...]) -> LayerRow:
    out = tuple(as_plain(d) for d in layer.output_shape(x))
    for d in out:
        if is_concrete(d) and d < 1:
            raise LayerError(f"the output shape {format_shape(out)} has an empty dimension")
    macs = as_plain(layer.macs(x, out=out))
    return LayerRow(
        name=name,
        type=layer.type,
        input_shapes=(x,),
        output_shape=out,
        params=as_plain(layer.param_count(x)),
        buffers=as_plain(layer.buffer_count(x)),
        macs=macs,
        flops=as_plain(2 * macs + layer.other_flops(x, out=out)),
    )


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
            origin = "the binding" if name in bindings else "its value"
            raise SpecError(source.problem(f"param '{name}': {exc} (in {origin})", ("params", name))) from None
    return env


def _param_value(name: str, value: Any, env: Mapping[str, Any]) -> Any:
    if value is None:
        from archspec.symbolic import symbol

        return symbol(name)
    if isinstance(value, bool):
        raise ExprError(f"expected a number or an expression, found {value!r}")
    if isinstance(value, (int, Fraction)):
        return to_exact(value)
    if isinstance(value, float):
        return to_exact(Fraction(str(value)))
    if isinstance(value, str):
        if value.strip().lower() in ("null", "none", "~"):
            return _param_value(name, None, env)
        value = parse(value)
    if isinstance(value, Expr):
        return value.evaluate(env)
    if hasattr(value, "free_symbols"):
        return value  # a sympy expression given through the Python API
    raise ExprError(f"expected a number or an expression, found {value!r}")


def _input_shape(spec: Spec, source: SpecSource, env: Mapping[str, Any]) -> tuple[Value, ...]:
    name = spec.input_name
    dims = []
    for i, dim in enumerate(spec.inputs[name].shape):
        try:
            dims.append(evaluate_int_arg(f"shape[{i}]", dim, _POSITIVE, env))
        except LayerError as exc:
            raise SpecError(source.problem(f"input '{name}': {exc}", ("inputs", name, "shape", i))) from None
    return tuple(dims)
