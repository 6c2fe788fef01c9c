"""Generates the reference parts of docs/ from the code, so they cannot drift.

    python -m archspec.docgen          # rewrite the generated sections in docs/
    python -m archspec.docgen --check  # exit 1 if a committed page is stale

Each generated section sits between `<!-- BEGIN GENERATED: key -->` and
`<!-- END GENERATED: key -->` markers; the prose around it is written by hand.
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from pathlib import Path

from archspec.costs import PER_ELEMENT_FLOPS
from archspec.layers import REGISTRY
from archspec.layers.base import Layer, int_fields, real_fields

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _type_label(cls: type[Layer], name: str) -> str:
    real = real_fields(cls).get(name)
    if real is not None:
        bounds = [f">= {real.minimum:g}"] if real.minimum is not None else []
        bounds += [f"<= {real.maximum:g}"] if real.maximum is not None else []
        return "number or expression" + (f" ({', '.join(bounds)})" if bounds else "")
    marker = int_fields(cls).get(name)
    if marker is not None:
        kind = "int or expression" if marker.minimum == 1 else "int >= 0 or expression"
        if marker.per_dim:
            kind += ", or one per spatial dim"
        return kind
    annotation = cls.model_fields[name].annotation
    literal = [a for a in typing.get_args(annotation) if isinstance(a, str)]
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if literal:
        return " \\| ".join(f"`{a}`" for a in literal)
    text = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    return text.replace("|", "\\|")


def _default(cls: type[Layer], name: str) -> str:
    info = cls.model_fields[name]
    if info.is_required():
        return "required"
    if name == "in_channels" or name in ("in_features", "num_features"):
        return "inferred"
    return f"`{info.default!r}`" if info.default is not None else "`None`"


def _families() -> list[tuple[str, type[Layer]]]:
    """One entry per layer family: classes generated from one base share a section."""
    groups: dict[type, list[str]] = {}
    for tag, cls in REGISTRY.items():
        parent = cls.__mro__[1]
        # 1d/2d/3d variants share their base's docstring and arguments.
        key = parent if parent is not Layer and cls.__doc__ == parent.__doc__ else cls
        groups.setdefault(key, []).append(tag)
    entries = []
    for key, tags in groups.items():
        cls = REGISTRY[tags[0]]
        entries.append((" / ".join(sorted(tags)), cls))
    return sorted(entries, key=lambda entry: (inspect.getmodule(entry[1]).__name__, entry[0]))


def layer_reference() -> str:
    """The per-layer tables of docs/spec-format.md."""
    out = []
    module = None
    for title, cls in _families():
        family = inspect.getmodule(cls)
        if family is not module:
            module = family
            out.append(f"### {family.__doc__.strip().splitlines()[0].rstrip('.')}\n")
        out.append(f"#### {title}\n")
        out.append(inspect.cleandoc(cls.__doc__ or "") + "\n")
        cost_key = getattr(cls, "cost_key", "")
        if cost_key:
            cost = PER_ELEMENT_FLOPS[cost_key]
            out.append(f"FLOPs = numel * {cost.flops} ({cost.operations}); no params, no MACs.\n")
        arguments = [name for name in cls.model_fields if name not in Layer.model_fields]
        if arguments:
            out.append("| argument | type | default | notes |")
            out.append("| --- | --- | --- | --- |")
            for name in arguments:
                notes = (cls.model_fields[name].description or "").replace("|", "\\|")
                out.append(f"| `{name}` | {_type_label(cls, name)} | {_default(cls, name)} | {notes} |")
            out.append("")
        else:
            out.append("No arguments.\n")
    return "\n".join(out).rstrip() + "\n"


def cost_table() -> str:
    """The per-element FLOP table of docs/counting.md."""
    lines = ["| operation | FLOPs per element | operations counted |", "| --- | ---: | --- |"]
    for key, cost in PER_ELEMENT_FLOPS.items():
        lines.append(f"| {key} | {cost.flops} | {cost.operations} |")
    return "\n".join(lines) + "\n"


# Broken specs whose real messages docs/errors.md shows: (what is wrong, the YAML).
ERROR_EXAMPLES = [
    (
        "Several independent mistakes are reported together, each with its line and column",
        """\
params: {B: 1, k: 16}
inputs:
  x: {shape: [B, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: k, kernel: 3}
  - Relu
  - {type: Linear}
""",
    ),
    (
        "An unknown name in an expression",
        """\
params: {B: 1, width: 64}
inputs:
  x: {shape: [B, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: 2 * widht, kernel_size: 3}
""",
    ),
    (
        "Python code where an expression belongs",
        """\
inputs:
  x: {shape: [1, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: "__import__('os').getcwd()", kernel_size: 1}
""",
    ),
    (
        "An expression that is not an integer",
        """\
params: {k: 5}
inputs:
  x: {shape: [1, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: k, padding: k/2}
""",
    ),
    (
        "A comma inside a `{...}` mapping splits an unquoted expression",
        """\
inputs:
  x: {shape: [1, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: max(8, 16), kernel_size: 3}
""",
    ),
    (
        "Shapes that do not fit, inside a block: the block's line, and the application it failed in",
        """\
inputs:
  x: {shape: [1, 64, 56, 56]}
blocks:
  Residual:
    args: {planes: null}
    layers:
      - {name: conv, type: Conv2d, out_channels: planes, kernel_size: 3, padding: 1}
      - {name: add, type: Add, from: [conv, input]}
layers:
  - {name: layer1, type: Residual, planes: 64, repeat: 2}
  - {name: layer2, type: Residual, planes: 128}
""",
    ),
    (
        "Unknown names in `from:`, and a layer that would consume a later one (a cycle)",
        """\
inputs:
  x: {shape: [1, 8, 16, 16]}
layers:
  - {name: conv, type: Conv2d, out_channels: 8, kernel_size: 1}
  - {name: sum, type: Add, from: [conv, cnov]}
  - {name: loop, type: Add, from: [later, x]}
  - {name: later, type: ReLU}
""",
    ),
    (
        "Block arguments: a required one missing, an unknown one, and a block that uses itself",
        """\
inputs:
  x: {shape: [1, 8, 16, 16]}
blocks:
  Stage:
    args: {planes: null, stride: 1}
    layers:
      - {type: Conv2d, out_channels: planes, kernel_size: 3, stride: stride, padding: 1}
  Loop:
    layers: [Loop]
layers:
  - {type: Stage, strides: 2}
""",
    ),
    (
        "A repeat count left free must repeat a unit that keeps its input shape",
        """\
params: {depth: null}
inputs:
  x: {shape: [1, 8, 16, 16]}
layers:
  - {type: Conv2d, out_channels: 16, kernel_size: 3, repeat: depth}
""",
    ),
    (
        "Resource limits instead of a hang",
        """\
inputs:
  x: {shape: [1, 8]}
layers:
  - {type: Linear, out_features: 8, repeat: 10**9}
""",
    ),
    (
        "Invalid YAML",
        """\
inputs:
  x: {shape: [1, 8]
layers: [ReLU]
""",
    ),
]


def error_examples() -> str:
    """The examples of docs/errors.md: each broken spec and the message archspec prints for it."""
    from archspec.engine import analyze
    from archspec.errors import ArchspecError
    from archspec.source import parse_yaml

    out = []
    for title, text in ERROR_EXAMPLES:
        try:
            analyze(parse_yaml(text, "net.yaml"))
            message = "(no error: this example is stale)"
        except ArchspecError as exc:
            message = f"error: {exc}"
        out += [f"### {title}\n", "```yaml", text.rstrip(), "```\n", "```", message, "```\n"]
    return "\n".join(out)


def convention_reference() -> str:
    """docs/conventions.md: the layer types x profiles matrix, then every profile's rules."""
    from archspec.conventions import CONVENTIONS

    profiles = [c for c in CONVENTIONS.values() if c.default_rule is None]  # not archspec's own MACs
    counted = sorted({t for c in profiles for t in c.rules if t in REGISTRY}, key=list(REGISTRY).index)

    def cell(convention, layer_type: str) -> str:
        if convention.default_rule is not None or layer_type in convention.rules:
            return "bug" if layer_type in convention.bugs else "yes"
        return "bug" if layer_type in convention.bugs else "0"

    out = [
        "Which layer types each profile counts (yes: a rule; 0: the peer counts nothing; bug: the profile "
        "reproduces a known bug of the peer, described below). Every other layer type counts 0 in these "
        "profiles; archspec and torchvision count every layer by archspec's rules.\n",
        "| layer type | " + " | ".join(c.name for c in profiles) + " |",
        "|---|" + "---|" * len(profiles),
    ]
    out += [f"| {t} | " + " | ".join(cell(c, t) for c in profiles) + " |" for t in counted]
    for convention in CONVENTIONS.values():
        out += ["", f"### {convention.name}", "", f"{convention.summary}.", "",
                f"- follows: {convention.peer}; prints {convention.prints}", f"- rules from: {convention.source}"]
        if convention.backward is not None:
            doc = (convention.backward.__doc__ or "").strip().splitlines()[0]
            out.append(f"- backward (`--backward`): {doc}")
        if convention.rules:
            out += ["", "| layer type | rule |", "|---|---|"]
            seen: dict[str, list[str]] = {}
            for layer_type, rule in convention.rules.items():
                seen.setdefault(convention.rule_text(layer_type), []).append(layer_type)
            out += [f"| {', '.join(types)} | {text} |" for text, types in seen.items()]
        if convention.bugs:
            out += ["", "Peer bugs reproduced:", ""]
            out += [f"- {t}: {text}" for t, text in convention.bugs.items()]
    return "\n".join(out) + "\n"


def device_table() -> str:
    """The known devices' figures, from archspec/hardware/devices.yaml."""
    from archspec.hardware import devices

    def tera(table: dict[str, float], dtype: str) -> str:
        return f"{table[dtype] / 1e12:g}" if dtype in table else "-"

    lines = [
        "| key | device | bf16 matmul TFLOP/s | fp8 | fp32 vector | memory GiB | TB/s | link in node GB/s | across nodes GB/s | per node |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, d in devices().items():
        lines.append(
            f"| `{key}` | {d.name} | {tera(d.matmul, 'bf16')} | {tera(d.matmul, 'fp8')} | {tera(d.vector, 'fp32')} | "
            f"{d.memory / 2**30:g} | {d.memory_bandwidth / 1e12:g} | {d.intra_node_bandwidth / 1e9:g} | "
            f"{d.inter_node_bandwidth / 1e9:g} | {d.devices_per_node} |"
        )
    return "\n".join(lines) + "\n"


GENERATED = {
    ("spec-format.md", "layers"): layer_reference,
    ("counting.md", "per-element-flops"): cost_table,
    ("errors.md", "examples"): error_examples,
    ("conventions.md", "profiles"): convention_reference,
    ("performance-model.md", "devices"): device_table,
}

_SECTION = "<!-- BEGIN GENERATED: {key} -->\n{body}<!-- END GENERATED: {key} -->"


def render(text: str, key: str, body: str) -> str:
    """The page text with the generated section `key` replaced by `body`."""
    pattern = re.compile(
        rf"<!-- BEGIN GENERATED: {re.escape(key)} -->\n.*?<!-- END GENERATED: {re.escape(key)} -->", re.DOTALL
    )
    if not pattern.search(text):
        raise ValueError(f"no generated section {key!r} in the page")
    return pattern.sub(lambda _: _SECTION.format(key=key, body=body), text)


INDEX_FILE = Path(__file__).parent / "layers" / "_index.py"


def layer_index() -> str:
    """archspec/layers/_index.py: which module holds each layer type, so that a spec imports
    only the modules it uses."""
    lines = ['"""Which module of archspec.layers holds each layer type (written by `python -m archspec.docgen`)."""', "",
             "INDEX = {"]
    lines += [f"    {tag!r}: {module!r}," for tag, module in REGISTRY.index().items()]
    return "\n".join(lines + ["}", ""])


SCHEMA_FILE = Path(__file__).parent / "spec.schema.json"


def schema_text() -> str:
    """archspec/spec.schema.json: the editor schema, shipped in the package and the repository."""
    import json

    from archspec.spec import json_schema

    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


def stale_pages(docs: Path = DOCS) -> list[str]:
    """The doc pages whose generated sections differ from the code (and the layer index, the schema)."""
    stale = [] if INDEX_FILE.read_text(encoding="utf-8") == layer_index() else ["archspec/layers/_index.py"]
    if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text(encoding="utf-8") != schema_text():
        stale.append("archspec/spec.schema.json")
    for (page, key), make in GENERATED.items():
        text = (docs / page).read_text(encoding="utf-8")
        if render(text, key, make()) != text:
            stale.append(f"{page} ({key})")
    return stale


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_pages()
        for page in stale:
            print(f"stale: {page}; run python -m archspec.docgen", file=sys.stderr)
        return 1 if stale else 0
    INDEX_FILE.write_text(layer_index(), encoding="utf-8")
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    for (page, key), make in GENERATED.items():
        path = DOCS / page
        path.write_text(render(path.read_text(encoding="utf-8"), key, make()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
