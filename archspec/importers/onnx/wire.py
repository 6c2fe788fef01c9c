"""An ONNX file's bytes without its weights: the protobuf wire format, read directly.

`onnx.load` would copy every initializer's payload into a second buffer (a 200 MB model
held twice); the importer needs only their names, dims and element types, plus the
values of small integer and scalar tensors (shape arithmetic, a scale). `strip` walks the
ModelProto's fields on a memoryview of the file's bytes and returns the model with its
initializers removed (a few kilobytes for onnx to parse) and each initializer's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

GRAPH = 7  # ModelProto.graph
INITIALIZER = 5  # GraphProto.initializer
DIMS, DATA_TYPE, NAME, DATA_LOCATION = 1, 2, 8, 14  # TensorProto fields
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL

# element types whose small tensors are read: shape arithmetic (integers, booleans) and scalars
INTEGER_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}  # uint8 int8 uint16 int16 int32 int64 bool uint32 uint64
MAX_READ = 1 << 20  # integer elements read at most (8 MB as int64): index buffers, shape tables


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass
class Initializer:
    """An initializer's metadata; `value` (a numpy array) only for the tensors `wanted` reads."""

    name: str
    dims: tuple[int, ...]
    data_type: int
    external: bool = False
    value: Any = None
    raw: Any = None  # a small tensor's TensorProto bytes (a view of the file's), read only if a fold needs it


def varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """One protobuf varint at `pos` (not past `end`): (value, the position after it); WireError if cut off."""
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise WireError("varint too long")


def fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, key start, payload start, payload end) of each field; for a
    varint the payload start is its value."""
    pos = start
    while pos < end:
        key_start = pos
        key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos, end)
            yield number, wire, key_start, value, pos
            continue
        if wire == 2:
            length, pos = varint(buf, pos, end)
        elif wire in (1, 5):
            length = 8 if wire == 1 else 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        if pos + length > end:
            raise WireError("a field runs past its message")
        yield number, wire, key_start, pos, pos + length
        pos += length


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _tensor_header(buf: memoryview, start: int, end: int) -> Initializer:
    """Name, dims, element type and location of a TensorProto, skipping its payload."""
    name, dims, data_type, external = "", [], 0, False
    for number, wire, _, a, b in fields(buf, start, end):
        if number == NAME and wire == 2:
            name = bytes(buf[a:b]).decode("utf-8", "replace")
        elif number == DIMS and wire == 0:
            dims.append(_signed(a))
        elif number == DIMS and wire == 2:  # packed
            pos = a
            while pos < b:
                value, pos = varint(buf, pos, b)
                dims.append(_signed(value))
        elif number == DATA_TYPE and wire == 0:
            data_type = a
        elif number == DATA_LOCATION and wire == 0:
            external = a == EXTERNAL
    return Initializer(name, tuple(dims), data_type, external)


def wanted(tensor: Initializer) -> bool:
    """Whether to read an initializer's values: small integer tensors and one-element tensors."""
    count = 1
    for d in tensor.dims:
        count *= d
    if tensor.external:
        return False
    return count <= 1 or (tensor.data_type in INTEGER_TYPES and count <= MAX_READ)


def readable(tensor: Initializer) -> bool:
    """Whether a tensor not read up front may be read by a fold: a small one in the file (an
    exporter's constant, e.g. a window mask's fill, stored as an initializer)."""
    count = 1
    for d in tensor.dims:
        count *= d
    return not tensor.external and count <= MAX_READ


def strip(data: bytes, read_value) -> tuple[bytes, list[Initializer]]:
    """The ModelProto without initializers, and their metadata (values read by `read_value`
    from the TensorProto's bytes, for the initializers `wanted` picks)."""
    buf = memoryview(data)
    out, graph, initializers = bytearray(), bytearray(), []
    for number, wire, key_start, a, b in fields(buf, 0, len(buf)):
        if number != GRAPH or wire != 2:
            out += buf[key_start:b]
            continue
        # a repeated singular message merges: the graph parts are joined into one
        for inner, inner_wire, inner_key, c, d in fields(buf, a, b):
            if inner == INITIALIZER and inner_wire == 2:
                tensor = _tensor_header(buf, c, d)
                if wanted(tensor):
                    tensor.value = read_value(bytes(buf[c:d]))
                elif readable(tensor):
                    tensor.raw = buf[c:d]
                initializers.append(tensor)
            else:
                graph += buf[inner_key:d]
    out += _field(GRAPH, bytes(graph))
    return bytes(out), initializers
