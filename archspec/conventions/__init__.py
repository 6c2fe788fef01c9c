"""Counting conventions: named profiles that reproduce what other counters print.

A profile is data plus small rule functions, in one module of this package per peer
(thop.py, ptflops.py, ...): a table from layer type to a rule that turns the facts of
one layer application (its bound arguments, input and output shapes, how the PyTorch
code calls it) into a `Cost`. A layer type a profile has no rule for costs nothing in
it, as an unregistered module costs nothing in the peer. The engine asks the chosen
profile for every row (`archspec.analyze(spec, convention="thop")`); the layers know
nothing about profiles.

Every rule function has a one-line docstring: its formula, which `archspec compare`
and docs/conventions.md print.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Mapping

from archspec.dims import Value, product
from archspec.errors import ArchspecError, did_you_mean

if TYPE_CHECKING:  # listing the conventions loads no layer (nor pydantic)
    from archspec.layers.base import Layer, Shape

@dataclass(frozen=True)
class Cost:
    """What one layer application counts for in a profile: its MACs and its FLOPs."""

    macs: Value = 0
    flops: Value = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.macs + other.macs, self.flops + other.flops)


def mac(count: Value) -> Cost:
    """A count of multiply-accumulates, as 2 FLOPs each."""
    return Cost(count, 2 * count)


def flop(count: Value) -> Cost:
    """A count of FLOPs that are not part of a multiply-accumulate."""
    return Cost(0, count)


@dataclass(frozen=True)
class Facts:
    """One layer application, as a profile's rules see it."""

    layer: Layer
    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    call: str
    inputs_without_grad: tuple[bool, ...]  # per input: an input of the spec that needs no gradient
    batch: Value  # first dim of the spec's first input, the "batch" a module-hook counter divides by

    @property
    def x(self) -> Shape:
        return self.inputs[0]

    @property
    def out(self) -> Shape:
        return self.outputs[0]

    @property
    def numel_in(self) -> Value:
        return product(self.inputs[0])

    @property
    def numel_out(self) -> Value:
        return product(self.outputs[0])

    @property
    def params(self) -> Value:
        """The module's own parameters (a tied weight included, as a module holds it)."""
        return self.layer.param_count(*self.inputs)

    @property
    def own(self) -> Cost:
        """archspec's own count of this layer (docs/counting.md)."""
        macs = self.layer.macs(*self.inputs, out=self._out_arg)
        return Cost(macs, 2 * macs + self.layer.other_flops(*self.inputs, out=self._out_arg))

    @property
    def is_module(self) -> bool:
        """Whether module hooks see it (a torch.nn module or a subclass)."""
        return self.call in ("module", "subclass")

    @property
    def _out_arg(self):
        return self.outputs[0] if len(self.outputs) == 1 else self.outputs


Rule = Callable[[Facts], Cost]


@dataclass(frozen=True)
class Convention:
    """A named counting profile (see the module docstring)."""

    name: str
    summary: str
    peer: str  # the peer and version whose printed figures the profile reproduces
    source: str  # the peer files its rules come from
    prints: str  # what the peer prints: "macs", "flops" or "macs and flops"
    rules: Mapping[str, Rule]
    backward: Callable[[Facts, Cost], Value] | None = None  # backward-pass FLOPs of one layer
    bugs: Mapping[str, str] = field(default_factory=dict)  # layer type -> the peer's bug the profile reproduces
    default_rule: Rule | None = None  # for layer types without a rule; None: they cost nothing

    def cost(self, facts: Facts) -> Cost:
        """The layer's MACs and FLOPs under this profile."""
        rule = self.rules.get(facts.layer.type, self.default_rule)
        return rule(facts) if rule is not None else Cost()

    def rule_text(self, layer_type: str) -> str:
        """The formula of the rule for a layer type, from its docstring."""
        rule = self.rules.get(layer_type, self.default_rule)
        if rule is None:
            return "not counted"
        return rule.__doc__.strip().splitlines()[0] if rule.__doc__ else rule.__name__


CONVENTIONS: dict[str, Convention] = {}


def each(names: str, rule):
    """One rule (or bug note) for several layer types: `each("Conv*d Linear", rule)`; `*d` is 1d, 2d and 3d."""
    table = {}
    for name in names.split():
        variants = [name.replace("*", str(n)) for n in (1, 2, 3)] if "*" in name else [name]
        table.update({variant: rule for variant in variants})
    return table


def define(convention: Convention) -> Convention:
    """Make a profile available under its name."""
    if convention.name in CONVENTIONS:
        raise RuntimeError(f"convention {convention.name!r} is defined twice")
    CONVENTIONS[convention.name] = convention
    return convention


def get_convention(name: str) -> Convention:
    """The profile called `name`, or an error listing the known ones."""
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ArchspecError(
            f"unknown convention {name!r}{did_you_mean(name, CONVENTIONS)}; known: {', '.join(CONVENTIONS)}"
        ) from None


def _discover() -> None:
    importlib.import_module(f"{__name__}.default")  # archspec's own profile lists first
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def hooked(rule: Rule) -> Rule:
    """`rule` for layers a module forward hook sees (a torch.nn module or a subclass);
    0 for layers run as functions or operators."""

    def seen_by_hook(f: Facts) -> Cost:
        return rule(f) if f.is_module else Cost()

    seen_by_hook.__doc__ = rule.__doc__
    return seen_by_hook


# ---- facts several profiles read ------------------------------------------------------
def is_affine(layer: Layer) -> bool:
    """Whether a normalization layer has a learnable scale (affine / elementwise_affine)."""
    return bool(getattr(layer, "affine", False) or getattr(layer, "elementwise_affine", False))


def has_bias(layer: Layer) -> bool:
    return bool(getattr(layer, "bias", False))


def leading(shape: Shape) -> Value:
    """Product of every dim but the last (the rows a Linear multiplies)."""
    return product(shape[:-1])


def conv_bias_adds(f: Facts) -> Value:
    """One add per output element when the convolution has a bias."""
    return f.numel_out if has_bias(f.layer) else 0


def linear_bias_adds(f: Facts) -> Value:
    return leading(f.x) * f.out[-1] if has_bias(f.layer) else 0


def attention_parts(f: Facts):
    """The sizes of an Attention or MultiheadAttention application, scoring every (query, key) pair."""
    return replace(f.layer.parts(*f.inputs), causal_pairs=False)


def cell_arithmetic(layer: Layer) -> Value:
    """The elementwise work per cell that ptflops, calflops and DeepSpeed all count: RNN H, GRU 7H, LSTM 10H."""
    return {1: 1, 3: 7, 4: 10}[layer.gates] * layer.hidden_size


def numpy_einsum_flop(f: Facts) -> Value:
    """numpy's einsum_path "optimized flop" for a one-step contraction, which fvcore halves and
    calflops reports: the product of every label's size, twice that when a label is summed away."""
    sizes, _, output = f.layer.label_sizes(*f.inputs)
    every = product(sizes.values())
    return 2 * every if any(label not in output for label in sizes) else every


def rnn_cells(f: Facts) -> Value:
    """Cell evaluations of a recurrent layer per direction: sequence length x batch."""
    return product(f.x[:2]) if len(f.x) == 3 else f.x[0]


_discover()
