"""Specs from the models users already have: a HuggingFace config.json (archspec.importers.hf)
or an ONNX graph (archspec.importers.onnx, the `onnx` extra).

Each importer builds a Draft and `render` writes it as the YAML a person would write;
`archspec.analyze` and every command read these sources directly through `import_spec`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archspec.errors import Problem, SpecError

ONNX_MAGIC = b"\x08"  # an ONNX ModelProto starts with field 1 (ir_version) as a varint


def source_kind(data: bytes) -> str | None:
    """What a file holds: "hf" (a JSON object with model_type), "onnx" (a binary ModelProto),
    or None (a spec, or anything else: left to the YAML reader)."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return "hf" if isinstance(parsed, dict) and "model_type" in parsed else None
    if data.startswith(ONNX_MAGIC) and _binary(data):
        return "onnx"
    return None


def _binary(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def is_config(value: Any) -> bool:
    """A parsed HF config: a mapping with model_type and none of a spec's keys."""
    return isinstance(value, dict) and "model_type" in value and "layers" not in value


def import_spec(source: Any, name: str | None = None, attention: str = "fused", unknown_ops: str = "error") -> str:
    """The YAML text of a spec for `source`: a path to a config.json or an .onnx file, or a
    config as a dict. `attention` (fused or eager) picks the HF attention kernel; `unknown_ops`
    (error or zero) what an ONNX operator without a mapping does."""
    from archspec.importers.draft import render

    if is_config(source):
        return render(_hf(source, None, name, attention))
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(Problem(f"cannot read the file: {exc.strerror}", str(path))) from None
    kind = source_kind(data)
    if kind == "hf":
        return render(_hf(json.loads(data.decode("utf-8")), str(path), name, attention))
    if kind == "onnx":
        from archspec.importers.onnx import import_onnx

        return render(import_onnx(data, str(path), name=name, unknown_ops=unknown_ops))
    raise SpecError(Problem("is neither a HuggingFace config.json (a JSON object with model_type) nor an ONNX model", str(path)))


def _hf(data: dict[str, Any], file: str | None, name: str | None, attention: str):
    from archspec.importers.hf import Options, import_config

    if attention not in ("fused", "eager"):
        raise SpecError(f"attention must be fused or eager, not {attention!r}")
    return import_config(data, file, Options(attention=attention, name=name))
