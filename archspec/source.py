"""Reading a spec document: safe YAML with the line and column of every value.

PyYAML's safe composer builds the node tree (no Python tags, no code); we turn it into
plain dicts, lists and scalars ourselves so that each value's position is kept, keyed
by its path (`("layers", 3, "kernel_size")`). Errors found later are mapped back to
those positions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import Problem, SpecError
from archspec.limits import active, raise_hint

# The number of values, the file size, the longest string and the longest integer are settable
# limits (archspec.limits: max_values, max_file_bytes, max_scalar_chars, max_bits); the nesting
# depth is fixed, as the composer recurses.
MAX_DEPTH = 64
_SafeComposer = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built: same marks, twice as fast

PathKey = tuple[Any, ...]

_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null", "merge")}


@dataclass
class SpecSource:
    """A spec's raw data, where it came from, and where each value stands in the file."""

    data: Any
    file: str | None = None
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)  # where each mapping key is written

    def locate(self, path: PathKey) -> tuple[int | None, int | None]:
        """The (line, column) of the value at `path`, or of its closest located parent."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (None, None))

    def problem(self, message: str, path: PathKey = (), where: str | None = None, at_key: bool = False) -> Problem:
        """A located problem; `at_key`: at the key of `path` (an unknown field), not its value."""
        line, column = self.key_positions.get(tuple(path), (None, None)) if at_key else (None, None)
        if line is None:
            line, column = self.locate(path)
        return Problem(message, self.file, line, column, where)


class _Converter:
    def __init__(self, file: str | None):
        self.file = file
        self.loader = yaml.SafeLoader("")
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.key_positions: dict[PathKey, tuple[int, int]] = {}
        self.count = 0
        self.expanded: set[int] = set()  # collections already converted: met again, they are aliases
        self.aliases = 0
        self.limits = active()

    def error(self, message: str, node: yaml.Node) -> SpecError:
        mark = node.start_mark
        return SpecError(Problem(message, self.file, mark.line + 1, mark.column + 1))

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self.expanded:
                self.aliases += 1
            self.expanded.add(id(node))
        if self.count > self.limits.max_values:
            cause = (f"its aliases expand {self.aliases:,} times (an alias bomb?)" if self.aliases else
                     f"it is far larger than any network's spec; {raise_hint('max_values')}")
            raise self.error(f"the document has more than {self.limits.max_values:,} values: {cause}", node)
        if len(path) > MAX_DEPTH:
            raise self.error(f"the document nests deeper than {MAX_DEPTH} levels", node)
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.check_tag(node)
        if isinstance(node, yaml.MappingNode):
            own_keys: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.convert_scalar(key_node)
                if key in own_keys:
                    hint = ""
                    if isinstance(key, str) and key.rstrip().endswith(")") and node.flow_style:
                        # `{out: make_divisible(c, 8)}`: YAML split the expression at its comma.
                        hint = "; an expression with a comma inside {...} must be quoted: \"make_divisible(c, 8)\""
                    raise self.error(f"duplicate key {key!r}{hint}", key_node)
                own_keys.add(key)
            # Resolve `<<` merge keys; the mapping's own keys come last and win.
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.convert_scalar(key_node)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise self.error("mapping keys must be plain names", key_node)
                self.key_positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.convert(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.convert_scalar(node)

    def check_tag(self, node: yaml.Node) -> None:
        if node.tag not in _PLAIN_TAGS:
            raise self.error(
                f"unsupported YAML tag {node.tag!r}: specs are plain YAML (mappings, lists, "
                "strings, numbers, booleans, null); no tag is ever constructed or run",
                node,
            )

    def convert_scalar(self, node: yaml.Node) -> Any:
        self.check_tag(node)
        if not isinstance(node, yaml.ScalarNode):
            raise self.error("mapping keys must be plain names", node)
        if node.tag.endswith(":int") and len(node.value) > self.limits.max_digits:
            raise self.error(f"a number of {len(node.value)} digits; numbers have at most {self.limits.max_digits} (--limit max_bits)", node)
        if len(node.value) > self.limits.max_scalar_chars:
            raise self.error(
                f"a value of {len(node.value):,} characters; values have at most {self.limits.max_scalar_chars:,} "
                f"({raise_hint('max_scalar_chars')})", node)
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError as exc:
            raise self.error(f"unreadable value: {exc}", node) from None
        except ValueError as exc:  # beyond Python's own conversion limits
            raise self.error(f"unreadable value: {exc}", node) from None


def load_source(spec: Any) -> SpecSource:
    """Read a spec given as a path (any name; `-` for standard input), a YAML string or an
    already-parsed dict. A one-line string is a path unless it reads as a YAML mapping."""
    if isinstance(spec, SpecSource):
        return spec
    if isinstance(spec, dict):
        if "model_type" in spec and "layers" not in spec:  # a HuggingFace config
            from archspec.importers import import_spec

            return parse_yaml(import_spec(spec), "<imported config>")
        _check_numbers(spec)
        return SpecSource(spec)
    if isinstance(spec, str) and spec.startswith("zoo:"):
        spec = zoo_path(spec[4:])
    if spec == "-":
        max_bytes = active().max_file_bytes
        data = sys.stdin.buffer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SpecError(Problem(f"standard input holds more than {max_bytes:,} bytes; a spec is smaller "
                                    "(--limit max_file_bytes)", "<stdin>"))
        return parse_yaml(_decode(data, "<stdin>"), "<stdin>")
    if isinstance(spec, Path) or (isinstance(spec, str) and _looks_like_a_path(spec)):
        path = Path(spec)
        head = _read_head(path)
        from archspec.importers import ONNX_MAGIC, source_kind

        data = None
        if head.startswith(ONNX_MAGIC):
            kind = source_kind(head)  # an ONNX model may be large: its head tells
        else:
            data = _read_all(path)
            kind = source_kind(data) if head.lstrip().startswith(b"{") else None
        if kind is not None:  # a HuggingFace config.json or an ONNX model
            from archspec.importers import import_spec

            return parse_yaml(import_spec(path), f"{path} (imported)")
        return parse_yaml(_decode(data if data is not None else _read_all(path), str(path)), str(path))
    if isinstance(spec, str):
        return parse_yaml(spec, None)
    raise SpecError(f"a spec is a path, a YAML string or a dict, not {type(spec).__name__}")


def _check_numbers(spec: dict) -> None:
    """A spec given as a dict: integers and strings longer than any YAML one may be are refused
    the same way (Python will not even print 4,301 digits), before anything formats them."""
    limits = active()
    if not _within(spec, limits.max_digits * 3.33, limits.max_scalar_chars):
        _locate_excess(spec, (), limits)


def _within(value: Any, max_bits: float, max_chars: int, depth: int = 0) -> bool:
    """Whether every number and string in `value` is within the bounds (no paths kept: the walk
    of a 50,000-layer dict is a tenth of its analysis when it builds one per item). A dict nested
    deeper than a YAML document may be (or holding itself) is refused here, before any walk recurses."""
    if isinstance(value, int):
        return isinstance(value, bool) or value.bit_length() <= max_bits
    if isinstance(value, str):
        return len(value) <= max_chars
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return True
    if depth > MAX_DEPTH:
        raise SpecError(Problem(f"the spec nests deeper than {MAX_DEPTH} levels (or holds itself)"))
    for item in value:
        if not _within(item, max_bits, max_chars, depth + 1):
            return False
    return True


def _locate_excess(value: Any, path: tuple, limits: Any) -> None:
    """Raise for the first number or string out of bounds, naming where it is."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and value.bit_length() > limits.max_digits * 3.33:
        where = ".".join(str(p) for p in path) or "the spec"
        raise SpecError(Problem(f"{where}: a number of {value.bit_length():,} bits; numbers have at most {limits.max_digits} digits"))
    if isinstance(value, str) and len(value) > limits.max_scalar_chars:
        where = ".".join(str(p) for p in path) or "the spec"
        raise SpecError(Problem(f"{where}: a value of {len(value):,} characters; values have at most {limits.max_scalar_chars:,}"))
    if isinstance(value, dict):
        for key, item in value.items():
            _locate_excess(item, (*path, key), limits)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _locate_excess(item, (*path, index), limits)


def zoo_dir() -> Path:
    """Where the zoo's specs are: installed as the package archspec.zoo, or specs/ of a checkout."""
    installed = Path(__file__).resolve().parent / "zoo"  # a wheel installs specs/ as archspec/zoo
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "specs"  # a checkout, or an editable install


def zoo_path(name: str) -> Path:
    """The spec `zoo:NAME` names; an unknown name lists the zoo."""
    path = zoo_dir() / f"{name}.yaml"
    if not name.isidentifier() or not path.is_file():
        from archspec.errors import did_you_mean

        known = sorted(p.stem for p in zoo_dir().glob("*.yaml"))
        raise SpecError(Problem(f"no spec {name!r} in the zoo{did_you_mean(name, known)} (archspec zoo lists them)", f"zoo:{name}"))
    return path


_HEAD = 4096


def _read_head(path: Path) -> bytes:
    """The first bytes of a regular file (not a directory, device or pipe: /dev/zero never ends)."""
    try:
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not a regular file" if path.exists() else None
            if what is None:
                raise FileNotFoundError(2, "No such file or directory")
            raise SpecError(Problem(f"the spec path is {what}", str(path)))
        with path.open("rb") as handle:
            return handle.read(_HEAD)
    except OSError as exc:
        raise SpecError(Problem(f"cannot read the spec file: {exc.strerror}", str(path))) from None
    except ValueError as exc:  # a NUL in the name
        raise SpecError(Problem(f"cannot read the spec file: {exc}", repr(str(path)))) from None


def _read_all(path: Path) -> bytes:
    """The whole file, refused over the max_file_bytes limit before it is read."""
    max_bytes = active().max_file_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SpecError(Problem(f"the file is {size:,} bytes; a spec is at most {max_bytes:,} "
                                    f"({raise_hint('max_file_bytes')})", str(path)))
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(Problem(f"cannot read the spec file: {exc.strerror}", str(path))) from None


def _decode(data: bytes, file: str) -> str:
    """UTF-8 text; other encodings and binary files are named, not guessed."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
                      (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise SpecError(Problem(f"the file is {name}; save it as UTF-8", file))
    if b"\x00" in data[:_HEAD]:
        raise SpecError(Problem("the file is binary, not a YAML spec (nor a config.json or an ONNX model)", file))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(Problem(f"the file is not UTF-8 (byte {exc.start:,}: {data[exc.start]:#04x}); save it as UTF-8", file)) from None


def _looks_like_a_path(text: str) -> bool:
    """A single line that is not a YAML mapping or list written inline."""
    stripped = text.strip()
    return "\n" not in stripped and bool(stripped) and not stripped.startswith(("{", "[")) and ": " not in stripped


def parse_yaml(text: str, file: str | None) -> SpecSource:
    """Parse YAML text safely, keeping positions."""
    converter = _Converter(file)
    try:
        node = yaml.compose(text, Loader=_SafeComposer)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise SpecError(Problem(f"invalid YAML: {exc.problem}", file, line, column)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(f"invalid YAML: {exc}", file)) from None
    except RecursionError:
        raise SpecError(Problem(f"the document nests deeper than {MAX_DEPTH} levels", file)) from None
    if node is None:
        raise SpecError(Problem("the spec is empty", file))
    data = converter.convert(node, ())
    return SpecSource(data, file, converter.positions, converter.key_positions)
