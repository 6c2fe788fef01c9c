"""A HuggingFace config.json, read key by key with transformers' defaults and typed checks.

Families read their keys through `HFConfig`: a missing key takes the default of
transformers' config class (5.24.0), a wrong type or a value that changes the
architecture in a way the converter does not handle is an error naming the key.
"""

from __future__ import annotations

from typing import Any

from archspec.errors import Problem, SpecError
from archspec.limits import active

_MISSING = object()


class HFConfig:
    """One config.json: its values by key, where it came from, and which model type it is."""

    def __init__(self, data: dict[str, Any], file: str | None):
        self.data = data
        self.file = file
        self.model_type = str(data.get("model_type"))
        architectures = data.get("architectures") or []
        self.architecture = str(architectures[0]) if isinstance(architectures, list) and architectures else ""

    def error(self, message: str, key: str | None = None) -> SpecError:
        """A located error: the file and the key (or the model type)."""
        where = f"key {key!r}" if key else f"model_type {self.model_type!r}"
        return SpecError(Problem(message, self.file or "<config>", where=where))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                raise self.error("is missing; the converter needs it", key)
            return default
        return value

    def int(self, key: str, default: Any = _MISSING, minimum: int = 1) -> int:
        """An integer key (at least `minimum`, at most the largest tensor dim, max_dim)."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.error(f"expected an integer, found {value!r}", key)
        if value < minimum:
            raise self.error(f"expected an integer of at least {minimum}, found {value}", key)
        most = active().max_dim
        if value > most:
            raise self.error(f"expected an integer of at most {most:,} (max_dim), found {value:,}", key)
        return value

    def layers(self, key: str, default: Any = _MISSING) -> int:
        """A count of layers, which the converter lists one by one: at most max_repeat, the
        repeat count the spec will carry."""
        value = self.int(key, default)
        most = active().max_repeat
        if value > most:
            raise self.error(f"expected at most {most:,} layers (--limit max_repeat), found {value:,}", key)
        return value

    def float(self, key: str, default: Any = _MISSING) -> float:
        """A real-valued key."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"expected a number, found {value!r}", key)
        return float(value)

    def nested_float(self, key: str, mapping: dict, name: str) -> float:
        """A real number inside a mapping key (rope_parameters' rope_theta)."""
        value = mapping[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{name}: expected a number, found {value!r}", key)
        return float(value)

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, found {value!r}", key)
        return value

    def str(self, key: str, default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise self.error(f"expected a string, found {value!r}", key)
        return value

    def choice(self, key: str, allowed: tuple[Any, ...], default: Any = _MISSING) -> Any:
        """A key whose other values change the architecture in a way the converter does not handle."""
        value = self.raw(key, default)
        if value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise self.error(
                f"= {value!r} changes the architecture in a way the converter does not handle (it handles {shown})", key
            )
        return value

    def refuse(self, key: str, handled: Any, why: str) -> None:
        """Fail when `key` is set to something other than the one value the converter builds."""
        value = self.data.get(key)
        if value is not None and value != handled:
            raise self.error(f"= {value!r}: {why}; the converter builds only {handled!r}", key)
