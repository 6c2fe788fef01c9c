"""Architecture diagrams of a report: the DAG of its layers (or of its blocks, collapsed to a
depth), each node with its output shape, params and MACs and shaded by its share of the MACs,
as Mermaid or Graphviz DOT text (no dependency), or SVG/PNG through Graphviz's `dot`."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from html import escape

from archspec.dims import as_plain, total
from archspec.errors import ArchspecError
from archspec.formats import human, shapes_text
from archspec.report import Report


@dataclass(frozen=True)
class Node:
    """One box: a layer, or a block collapsed to `depth`."""

    key: str
    label: str
    kind: str
    shape: str
    params: object
    macs: object


def graph(report: Report, depth: int | None = None) -> tuple[list[Node], list[tuple[int, int]]]:
    """The nodes (in order) and the edges (producer index, consumer index) of the report's DAG:
    an edge wherever a row reads a tensor an earlier row (of another node) wrote."""
    rows = [row for row in report.layers if not row.idle]
    keys = [".".join(row.path[:depth]) if depth else row.name for row in rows]
    order: dict[str, list] = {}
    for key, row in zip(keys, rows):
        order.setdefault(key, []).append(row)
    index = {key: i for i, key in enumerate(order)}
    nodes = []
    for key, members in order.items():
        last = members[-1]
        kind = last.type if len(members) == 1 else (last.types[len(key.split(".")) - 1] if depth else last.type)
        nodes.append(Node(key, key, kind, shapes_text(last.output_shapes),
                          as_plain(total(r.params for r in members)), as_plain(total(r.macs for r in members))))
    writer: dict[int, int] = {}  # storage -> the node that last wrote it
    edges: list[tuple[int, int]] = []
    for key, row in zip(keys, rows):
        here = index[key]
        for storage in row.input_storages:
            source = writer.get(storage)
            if source is not None and source != here and (source, here) not in edges:
                edges.append((source, here))
        for storage in row.output_storages:
            writer[storage] = here
    return nodes, edges


def _share(node: Node, largest: float) -> float:
    try:
        return float(node.macs) / largest if largest else 0.0
    except TypeError:  # a formula: unshaded
        return 0.0


def _fill(share: float) -> str:
    """White to orange by the share of the largest node's MACs."""
    green = int(255 - 120 * share)
    blue = int(255 - 200 * share)
    return f"#ff{green:02x}{blue:02x}"


def _largest(nodes: list[Node]) -> float:
    values = []
    for node in nodes:
        try:
            values.append(float(node.macs))
        except TypeError:
            pass
    return max(values, default=0.0)


def mermaid(report: Report, depth: int | None = None) -> str:
    """A Mermaid flowchart (renders in GitHub Markdown and most notebooks)."""
    nodes, edges = graph(report, depth)
    largest = _largest(nodes)
    lines = ["flowchart TD"]
    for i, node in enumerate(nodes):
        text = f"{node.label}<br/>{node.kind} {node.shape}<br/>{human(node.params)} params, {human(node.macs)} MACs"
        lines.append(f'  n{i}["{escape(text, quote=True).replace("&lt;br/&gt;", "<br/>")}"]')
        lines.append(f"  style n{i} fill:{_fill(_share(node, largest))}")
    lines += [f"  n{a} --> n{b}" for a, b in edges]
    return "\n".join(lines) + "\n"


def dot(report: Report, depth: int | None = None) -> str:
    """Graphviz DOT text."""
    nodes, edges = graph(report, depth)
    largest = _largest(nodes)
    lines = [f'digraph "{_dot_text(report.name)}" {{', '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    for i, node in enumerate(nodes):
        label = "\\n".join(_dot_text(t) for t in (node.label, f"{node.kind} {node.shape}",
                                                   f"{human(node.params)} params, {human(node.macs)} MACs"))
        lines.append(f'  n{i} [label="{label}", fillcolor="{_fill(_share(node, largest))}"];')
    lines += [f"  n{a} -> n{b};" for a, b in edges]
    return "\n".join(lines + ["}"]) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_image(dot_text: str, path: str) -> None:
    """SVG or PNG through Graphviz's `dot` (not a Python dependency)."""
    executable = shutil.which("dot")
    if executable is None:
        raise ArchspecError("drawing an SVG or PNG needs Graphviz's `dot` on the PATH; --format dot or mermaid writes text")
    fmt = path.rsplit(".", 1)[-1].lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ArchspecError(f"{path}: draw to an .svg, .png or .pdf file")
    try:
        subprocess.run([executable, f"-T{fmt}", "-o", path], input=dot_text.encode(), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise ArchspecError(f"dot failed: {exc.stderr.decode(errors='replace').strip()}") from None


def svg(report: Report, depth: int | None = None) -> str:
    """A self-contained SVG drawing (no Graphviz): nodes in rows by their longest path from the
    inputs, arrows between them; for the HTML report."""
    nodes, edges = graph(report, depth)
    level = [0] * len(nodes)
    for a, b in sorted(edges, key=lambda e: e[1]):  # producers come before consumers
        level[b] = max(level[b], level[a] + 1)
    rows: dict[int, list[int]] = {}
    for i, lv in enumerate(level):
        rows.setdefault(lv, []).append(i)
    box_w, box_h, gap_x, gap_y = 230, 54, 20, 30
    width = max(len(members) for members in rows.values()) * (box_w + gap_x) + gap_x
    height = len(rows) * (box_h + gap_y) + gap_y
    position = {}
    for lv, members in rows.items():
        offset = (width - len(members) * (box_w + gap_x) + gap_x) / 2
        for k, i in enumerate(members):
            position[i] = (offset + k * (box_w + gap_x), gap_y + lv * (box_h + gap_y))
    largest = _largest(nodes)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" font-family="sans-serif" '
             'font-size="11"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
             'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>']
    for a, b in edges:
        (xa, ya), (xb, yb) = position[a], position[b]
        parts.append(f'<line x1="{xa + box_w / 2:.0f}" y1="{ya + box_h}" x2="{xb + box_w / 2:.0f}" y2="{yb}" '
                     'stroke="#555" marker-end="url(#arrow)"/>')
    for i, node in enumerate(nodes):
        x, y = position[i]
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{_fill(_share(node, largest))}" '
                     'stroke="#333"/>')
        for k, text in enumerate((node.label, f"{node.kind} {node.shape}", f"{human(node.params)} params, {human(node.macs)} MACs")):
            parts.append(f'<text x="{x + 8:.0f}" y="{y + 16 + 14 * k}">{escape(text[:40])}</text>')
    return "".join(parts) + "</svg>"
