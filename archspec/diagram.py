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
    inputs, arrows between them; for the HTML report. An arrow that skips rows (a skip connection)
    runs in a lane of its own right of the boxes, never behind one; the boxes are as wide as their
    longest line (up to a limit: a longer line ends in an ellipsis, the full text is the tooltip)."""
    nodes, edges = graph(report, depth)
    level = [0] * len(nodes)
    for a, b in sorted(edges, key=lambda e: e[1]):  # producers come before consumers
        level[b] = max(level[b], level[a] + 1)
    rows: dict[int, list[int]] = {}
    for i, lv in enumerate(level):
        rows.setdefault(lv, []).append(i)
    lines = [(node.label, f"{node.kind} {node.shape}", f"{human(node.params)} params, {human(node.macs)} MACs")
             for node in nodes]
    char_w = 7  # px per character at font-size 11, wide enough for DejaVu Sans as well as Arial
    box_w = min(max(230, char_w * max(len(t) for texts in lines for t in texts) + 16), 440)
    fits = (box_w - 16) // char_w
    box_h, gap_x, gap_y, lane_gap = 54, 20, 30, 12
    skips = sorted((e for e in edges if level[e[1]] - level[e[0]] > 1), key=lambda e: level[e[1]] - level[e[0]])
    boxes_width = max(len(members) for members in rows.values()) * (box_w + gap_x) + gap_x
    width = boxes_width + (lane_gap * len(skips) + 8 if skips else 0)
    height = len(rows) * (box_h + gap_y) + gap_y
    position = {}
    for lv, members in rows.items():
        offset = (boxes_width - len(members) * (box_w + gap_x) + gap_x) / 2
        for k, i in enumerate(members):
            position[i] = (offset + k * (box_w + gap_x), gap_y + lv * (box_h + gap_y))
    largest = _largest(nodes)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" font-family="sans-serif" '
              'font-size="11"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
              'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>')]
    for a, b in edges:
        (xa, ya), (xb, yb) = position[a], position[b]
        if (a, b) in skips:  # down into the gap, right to its lane, down, back left above the target
            lane = boxes_width + lane_gap * skips.index((a, b))
            parts.append(f'<path d="M{xa + box_w / 2:.0f},{ya + box_h} v{gap_y / 2:.0f} H{lane:.0f} V{yb - gap_y / 2:.0f} '
                         f'H{xb + box_w / 2:.0f} V{yb}" fill="none" stroke="#555" marker-end="url(#arrow)"/>')
        else:
            parts.append(f'<line x1="{xa + box_w / 2:.0f}" y1="{ya + box_h}" x2="{xb + box_w / 2:.0f}" y2="{yb}" '
                         'stroke="#555" marker-end="url(#arrow)"/>')
    for i, node in enumerate(nodes):
        x, y = position[i]
        parts.append(f'<g><title>{escape(chr(10).join(lines[i]))}</title>'
                     f'<rect x="{x:.0f}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
                     f'fill="{_fill(_share(node, largest))}" stroke="#333"/>')
        for k, text in enumerate(lines[i]):
            shown = text if len(text) <= fits else text[: fits - 1] + "\u2026"
            parts.append(f'<text x="{x + 8:.0f}" y="{y + 16 + 14 * k}">{escape(shown)}</text>')
        parts.append("</g>")
    return "".join(parts) + "</svg>"
