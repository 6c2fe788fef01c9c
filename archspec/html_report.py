"""`archspec report`: one self-contained HTML page (no network) with the summary, the diagram,
the per-layer table and the memory breakdown; a thin layer over the report and memory data."""

from __future__ import annotations

from html import escape

from archspec.diagram import svg
from archspec.formats import grouped, human_bytes, summary, to_html
from archspec.memory import Memory
from archspec.report import Report

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child, td:nth-child(2), td:nth-child(3), th:nth-child(2), th:nth-child(3) { text-align: left; }
details { margin: 0.2em 0; } summary { cursor: pointer; }
.memory td:nth-child(n+2), .memory th:nth-child(n+2) { text-align: right; }
.diagram { overflow: auto; border: 1px solid #ddd; padding: 0.5em; }
"""


def _options(memory: Memory) -> str:
    o = memory.options
    return f"training, {o.dtype}, {o.optimizer}" if o.training else f"inference, {o.dtype}"


def html_report(report: Report, memory: Memory, depth: int = 1) -> str:
    """The page: headline figures, the architecture drawn at `depth`, every layer, memory."""
    memory_rows = "".join(
        f"<tr><td>{escape(key)}</td><td>{escape(human_bytes(value))}</td><td>{escape(grouped(value))} B</td></tr>"
        for key, value in memory.totals.items() if hasattr(value, "free_symbols") or value  # a formula too
    )
    inputs = ", ".join(f"{escape(k)} {list(v)}" for k, v in report.inputs.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(report.name)}: archspec report</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(report.name)}</h1>
<p>{escape(report.description)}</p>
<h2>Summary</h2><p>inputs {inputs}</p><p>{escape(summary(report))}</p>
<h2>Architecture</h2><div class="diagram">{svg(report, depth)}</div>
<h2>Layers</h2>{to_html(report)}
<h2>Memory ({escape(_options(memory))})</h2><table class="memory"><tr><th>component</th><th>size</th><th>bytes</th></tr>{memory_rows}</table>
<p><small>archspec: counts as docs/counting.md states them; memory as docs/memory.md.</small></p>
</body></html>
"""
