"""A spec as an importer builds it, and its YAML text as a person would write it.

An importer fills a `Draft` (named params with comments, blocks, a layer list) and
`render` writes it: params one per line with their comment, each layer a one-line flow
mapping, blocks before the top-level layers. The text is deterministic, so importing
twice gives the same file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


@dataclass
class Comment:
    """A comment line among layers."""

    text: str


@dataclass
class Block:
    """A named block: its layers, its inputs (when more than one) and its arguments."""

    layers: list[dict[str, Any] | Comment]
    comment: str = ""
    inputs: list[str] | None = None
    args: dict[str, Any] | None = None


@dataclass
class Draft:
    """Everything a spec file holds, in the order it is written."""

    name: str
    description: str
    header: list[str] = field(default_factory=list)
    params: list[tuple[str, Any, str]] = field(default_factory=list)  # (name, value, comment)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    layers: list[dict[str, Any] | Comment] = field(default_factory=list)
    outputs: list[str] | None = None
    decode_length: str | None = None  # the decoder's length param, when it is not L (encoder-decoders)

    def param(self, name: str, value: Any, comment: str = "") -> str:
        """Declare a param once (the first value stays) and return its name, for use in fields."""
        if not any(existing == name for existing, _, _ in self.params):
            self.params.append((name, value, comment))
        return name


def scalar(value: Any) -> str:
    """One YAML scalar: names and expressions bare where YAML reads them back as strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Fraction):
        value = float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("e" in text or "." in text or "inf" in text or "nan" in text) else text + ".0"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    if _is_expression(text):
        return text
    return json.dumps(text)


def _is_expression(text: str) -> bool:
    """An arithmetic expression YAML keeps as a string in a flow mapping (no ':' '#' ',' or brackets)."""
    if _NUMBER.match(text) or not text or text[0] in "-?!&*|>'\"%@`{[":
        return False
    return not any(c in text for c in ":#,[]{}") and text.strip() == text


def flow(value: Any) -> str:
    """A value written inline: mappings and lists in flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def _entries(items: list[dict[str, Any] | Comment], indent: str) -> list[str]:
    lines = []
    for item in items:
        if isinstance(item, Comment):
            lines.append(f"{indent}# {item.text}")
        else:
            lines.append(f"{indent}- {flow(item)}")
    return lines


def render(draft: Draft) -> str:
    """The spec's YAML text."""
    lines = [f"# {line}" if line else "#" for line in draft.header]
    lines += [f"name: {scalar(draft.name)}", f"description: {json.dumps(draft.description)}"]
    if draft.params:
        lines.append("params:")
        width = max(len(f"  {name}: {scalar(value)}") for name, value, _ in draft.params)
        for name, value, comment in draft.params:
            text = f"  {name}: {scalar(value)}"
            lines.append(f"{text:<{width}}  # {comment}" if comment else text)
    if draft.decode_length:
        lines.append(f"decode_length: {scalar(draft.decode_length)}")
    lines.append("inputs:")
    for name, tensor in draft.inputs.items():
        lines.append(f"  {name}: {flow(tensor)}")
    if draft.blocks:
        lines.append("blocks:")
        for name, block in draft.blocks.items():
            lines.append(f"  {name}:" + (f"  # {block.comment}" if block.comment else ""))
            if block.args:
                lines.append(f"    args: {flow(block.args)}")
            if block.inputs:
                lines.append(f"    inputs: {flow(block.inputs)}")
            lines.append("    layers:")
            lines += _entries(block.layers, "      ")
    lines.append("layers:")
    lines += _entries(draft.layers, "  ")
    if draft.outputs:
        lines.append(f"outputs: {flow(draft.outputs)}")
    return "\n".join(lines) + "\n"
