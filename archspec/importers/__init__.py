"""Specs from the models users already have: a HuggingFace config.json (archspec.importers.hf)
or an ONNX graph (archspec.importers.onnx, the `onnx` extra).

Each importer builds a Draft and `render` writes it as the YAML a person would write;
`archspec.analyze` and every command read these sources directly through `import_spec`.
"""

from __future__ import annotations

import json
import mmap
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
    if data.startswith(ONNX_MAGIC) and _model_proto(data[:4096]):
        return "onnx"
    return None


# ModelProto's fields and their protobuf wire types (0 varint, 2 length-delimited)
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _model_proto(head: bytes) -> bool:
    """Whether bytes begin as a serialized ModelProto: ir_version, then ModelProto's fields with
    their wire types (the last may run past the head). Not "is it binary": a model's head can
    be valid UTF-8 (names, and varints that happen to read as characters)."""
    from archspec.importers.onnx.wire import WireError, varint  # the wire reader alone: no onnx needed

    buffer, pos, fields = memoryview(head), 0, 0
    while pos < len(head):
        try:
            key, pos = varint(buffer, pos, len(head))
            value, pos = varint(buffer, pos, len(head))
        except WireError:
            return fields > 0  # cut off by the end of the head
        number, wire = key >> 3, key & 7
        if _MODEL_FIELDS.get(number) != wire or (fields == 0 and not (number == 1 and 1 <= value <= 100)):
            return False
        pos += value if wire == 2 else 0
        fields += 1
    return fields > 0


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
        kind, data = _contents(path)
    except OSError as exc:
        raise SpecError(Problem(f"cannot read the file: {exc.strerror}", str(path))) from None
    if kind == "hf":
        return render(_hf(json.loads(data.decode("utf-8")), str(path), name, attention))
    if kind == "onnx":
        from archspec.importers.onnx import import_onnx

        return render(import_onnx(data, str(path), name=name, unknown_ops=unknown_ops))
    raise SpecError(Problem("is neither a HuggingFace config.json (a JSON object with model_type) nor an ONNX model", str(path)))


def _contents(path: Path) -> tuple[str | None, Any]:
    """The file's kind and contents. An ONNX model is mapped rather than read: the importer
    touches its graph and the headers of its weights, never their data, so the pages of a
    200 MB model's weights are not loaded at all."""
    with path.open("rb") as handle:
        head = handle.read(4096)
        if source_kind(head) == "onnx":
            try:
                return "onnx", mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system without mmap: read it
                pass
        data = head + handle.read()
    return source_kind(data), data


def _hf(data: dict[str, Any], file: str | None, name: str | None, attention: str):
    from archspec.importers.hf import Options, import_config

    if attention not in ("fused", "eager"):
        raise SpecError(f"attention must be fused or eager, not {attention!r}")
    return import_config(data, file, Options(attention=attention, name=name))
