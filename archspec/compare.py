"""`archspec compare`: every counting convention side by side, per layer type, with the
rule that makes each differ. The comparison is data; rendering is a thin layer below."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from archspec.conventions import CONVENTIONS, Convention
from archspec.dims import Value, as_plain, total
from archspec.formats import grouped, human, table_blocks, terminal_width

FORMATS = ("table", "json", "markdown")


@dataclass(frozen=True)
class Column:
    """One printed figure of one profile: its MACs or its FLOPs."""

    convention: Convention
    metric: str  # "macs" or "flops"

    @property
    def title(self) -> str:
        unit = "MACs" if self.metric == "macs" else "FLOPs"
        return self.convention.name if self.convention.prints != "macs and flops" else f"{self.convention.name} {unit}"


@dataclass(frozen=True)
class Comparison:
    """Per layer type and in total, each profile's printed figures."""

    name: str
    types: tuple[str, ...]  # leaf layer types, in order of first appearance
    columns: tuple[Column, ...]
    by_type: dict[tuple[str, str], Value]  # (layer type, column title) -> figure
    totals: dict[str, Value]  # column title -> figure

    def differences(self) -> list[tuple[str, str, str, str | None]]:
        """(layer type, profile, its rule, the peer's bug it reproduces or None) wherever a
        profile's figure for a type differs from archspec's figure of the same metric."""
        found = []
        for layer_type in self.types:
            differing = []
            for column in self.columns:
                name = column.convention.name
                reference = self.by_type[(layer_type, f"archspec {'MACs' if column.metric == 'macs' else 'FLOPs'}")]
                if name not in ("archspec", *differing) and self.by_type[(layer_type, column.title)] != reference:
                    differing.append(name)
            for name in differing:
                convention = CONVENTIONS[name]
                found.append((layer_type, name, convention.rule_text(layer_type), convention.bugs.get(layer_type)))
        return found


def columns() -> tuple[Column, ...]:
    """Every profile's printed figure(s), archspec's MACs and FLOPs first."""
    found = []
    for convention in CONVENTIONS.values():
        metrics = {"macs": ("macs",), "flops": ("flops",), "macs and flops": ("macs", "flops")}[convention.prints]
        found.extend(Column(convention, metric) for metric in metrics)
    return tuple(found)


def compare(spec: Any, bindings: dict[str, Any] | None = None, limits=None) -> Comparison:
    """Analyze a spec under every convention and tabulate the figures by layer type."""
    # the analysis is loaded here, not at import: listing the conventions needs none of it
    from archspec.engine import analyze_model
    from archspec.limits import applied
    from archspec.rows import Counting
    from archspec.spec import validate

    with applied(limits):
        model, source = validate(spec)
    cols = columns()
    by_type: dict[tuple[str, str], Value] = {}
    totals: dict[str, Value] = {}
    # one walk of the graph; each convention counts its rows again from the facts a row keeps
    # (the layer, its shapes, its input storages: the spec's inputs are storages 0, 1, ...)
    base = analyze_model(model, source, bindings, limits, None)
    without_grad = frozenset(i for i, tensor in enumerate(model.spec.inputs.values()) if not tensor.requires_grad)
    batch = next(iter(base.inputs.values()))[0]
    counted = {}  # convention -> (MACs, FLOPs) per row
    for convention in CONVENTIONS.values():
        counting = Counting(convention, False, without_grad, batch)
        counted[convention.name] = [
            (row.macs, row.flops) if row.idle else counting.counts(row, row.layer, row.input_storages) for row in base.layers
        ]
    types = list(dict.fromkeys(row.type for row in base.layers))
    for column in cols:
        index = 0 if column.metric == "macs" else 1
        figures = [figure[index] for figure in counted[column.convention.name]]
        totals[column.title] = as_plain(total(figures))
        for layer_type in types:
            by_type[(layer_type, column.title)] = as_plain(
                total(figure for figure, row in zip(figures, base.layers) if row.type == layer_type)
            )
    return Comparison(model.spec.name, tuple(types), cols, by_type, totals)


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The comparison as a terminal table, JSON or Markdown."""
    if fmt == "json":
        return json.dumps(_to_dict(comparison), indent=2)
    titles = [c.title for c in comparison.columns]
    shown = [t for t in comparison.types if any(comparison.by_type[(t, c)] != 0 for c in titles)]
    rows = [[t, *(human(comparison.by_type[(t, c)]) for c in titles)] for t in shown]
    rows.append(["total", *(human(comparison.totals[c]) for c in titles)])
    notes = [
        f"{'!' if bug else ' '} {layer_type} / {name}: {text}" + (f" -- peer bug: {bug}" if bug else "")
        for layer_type, name, text, bug in comparison.differences()
    ]
    exact = [f"  {title.ljust(max(map(len, titles)))}  {grouped(comparison.totals[title])}" for title in titles]
    if fmt == "markdown":
        head = "| layer type | " + " | ".join(titles) + " |\n|" + "---|" * (len(titles) + 1)
        body = "\n".join("| " + " | ".join(row) + " |" for row in rows)
        lines = [f"## {comparison.name}: every convention", "", head, body, "", "Exact totals:", ""]
        lines += [f"- {title}: {grouped(comparison.totals[title])}" for title in titles]
        lines += ["", "Why they differ from archspec (the same metric; ! marks a peer bug, reproduced):", ""]
        lines += [f"- {note.strip()}" for note in notes]
        return "\n".join(lines)
    header = ["layer type", *titles]
    table = [f"{comparison.name}: every convention (archspec conventions lists them)"]
    table += table_blocks(header, rows, set(range(1, len(header))), terminal_width())
    table += ["", "exact totals:", *exact, "", "why they differ from archspec (the same metric; ! marks a peer bug, reproduced):", *notes]
    return "\n".join(table)


def _to_dict(comparison: Comparison) -> dict[str, Any]:
    from archspec.report import _json_value

    return {
        "name": comparison.name,
        "columns": [{"convention": c.convention.name, "metric": c.metric, "peer": c.convention.peer} for c in comparison.columns],
        "totals": {title: _json_value(v) for title, v in comparison.totals.items()},
        "by_type": {
            t: {c.title: _json_value(comparison.by_type[(t, c.title)]) for c in comparison.columns} for t in comparison.types
        },
        "differences": [
            {"type": t, "convention": name, "rule": text, "peer_bug": bug} for t, name, text, bug in comparison.differences()
        ],
    }


def list_conventions() -> str:
    """One line per profile: name, the peer it follows, what it counts."""
    width = max(len(name) for name in CONVENTIONS)
    lines = []
    for convention in CONVENTIONS.values():
        lines.append(f"{convention.name.ljust(width)}  {convention.peer}; prints {convention.prints}")
        lines.append(f"{''.ljust(width)}  {convention.summary}")
    return "\n".join(lines)


from archspec.callable_module import make_callable  # noqa: E402

make_callable(__name__, "compare")  # archspec.compare(spec, ...) is archspec.api.compare
