"""The registry of layer types: one small module per family, found automatically.

Adding a layer type means adding a class decorated with `@register` to a module in
this package (a new module is discovered without touching anything else; running
`python -m archspec.docgen`, as for the docs, lets a spec load only the modules it uses).
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from archspec.layers.base import Layer

class _Registry(Mapping[str, "type[Layer]"]):
    """Layer classes by type tag, loaded on demand: a spec's types import only their modules
    (the index in _index.py, written by `python -m archspec.docgen`, says which module holds
    which tag); iterating, or a tag the index does not know, loads every module."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Layer]] = {}
        self._deferred: dict[str, Callable[[], type[Layer]]] = {}  # tag -> maker of a class made on first use
        self._defined: dict[str, int] = {}  # tag -> when its module defined it (the order within a module)
        self._complete = False

    def add(self, tag: str, cls: type[Layer]) -> None:
        if tag in self._classes:
            raise RuntimeError(f"layer type {tag!r} is registered twice ({self._classes[tag].__name__}, {cls.__name__})")
        self._classes[tag] = cls
        self._defined.setdefault(tag, len(self._defined))

    def defer(self, tag: str, make: Callable[[], type[Layer]]) -> None:
        """Register a tag whose class `make` creates (and adds) when a spec first uses it."""
        self._defined.setdefault(tag, len(self._defined))
        self._deferred[tag] = make

    def _make(self, tag: str) -> None:
        make = self._deferred.pop(tag, None)
        if make is not None:
            make()

    def load_all(self) -> None:
        if not self._complete:
            import pkgutil  # only when every layer type is wanted (the index covers a spec's own)

            names = [m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_")]
            for name in names:
                importlib.import_module(f"{__name__}.{name}")
            for tag in list(self._deferred):
                self._make(tag)
            # the order of the modules, whichever a spec loaded first (the docs and the index are
            # generated from it); within a module, the order of definition
            rank = {f"{__name__}.{name}": i for i, name in enumerate(names)}
            self._classes = dict(sorted(
                self._classes.items(), key=lambda item: (rank.get(item[1].__module__, len(rank)), self._defined[item[0]])
            ))
            self._complete = True

    def _find(self, tag: str) -> type[Layer] | None:
        if tag not in self._classes:
            from archspec.layers._index import INDEX

            if tag in INDEX:
                importlib.import_module(f"{__name__}.{INDEX[tag]}")
            self._make(tag)
            if tag not in self._classes:
                self.load_all()
        return self._classes.get(tag)

    def __getitem__(self, tag: str) -> type[Layer]:
        found = self._find(tag) if isinstance(tag, str) else None
        if found is None:
            raise KeyError(tag)
        return found

    def is_indexed(self, tag: str) -> bool:
        """Whether a tag is a layer type by the index or the loaded classes (loads nothing)."""
        from archspec.layers._index import INDEX

        return tag in self._classes or tag in self._deferred or tag in INDEX

    def __contains__(self, tag: object) -> bool:
        return isinstance(tag, str) and self._find(tag) is not None

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(self._classes)

    def __len__(self) -> int:
        self.load_all()
        return len(self._classes)

    def index(self) -> dict[str, str]:
        """Which module holds each tag (for _index.py)."""
        self.load_all()
        return {tag: cls.__module__.rsplit(".", 1)[-1] for tag, cls in self._classes.items()}


REGISTRY = _Registry()


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer type available to specs under its `type` tag(s)."""
    for tag in typing.get_args(cls.model_fields["type"].annotation):
        REGISTRY.add(tag, cls)
    return cls


def register_variants(base: type[Layer], prefix: str, namespace: dict) -> None:
    """Register the 1d, 2d and 3d classes of one family (MaxPool1d, ...) of the module whose
    globals are `namespace`, each made when first used: a spec uses few of them, and making a
    class is most of what loading a layer module costs (a short command's start)."""
    from typing import Literal

    for n in (1, 2, 3):
        name = f"{prefix}{n}d"

        def make(name: str = name, n: int = n) -> type[Layer]:
            attributes = {
                "__doc__": base.__doc__,
                "__module__": namespace["__name__"],
                "__annotations__": {"type": Literal[name]},
                "spatial_dims": n,
            }
            namespace[name] = register(type(name, (base,), attributes))
            return namespace[name]

        REGISTRY.defer(name, make)
    namespace.setdefault("__getattr__", _made_on_access(namespace["__name__"]))


def _made_on_access(module: str) -> Callable[[str], Any]:
    """A module's __getattr__: its deferred layer classes are made when read (module.MaxPool2d)."""

    def __getattr__(attribute: str) -> Any:
        if attribute in REGISTRY._deferred:
            REGISTRY._make(attribute)
            return REGISTRY._classes[attribute]
        raise AttributeError(f"module {module!r} has no attribute {attribute!r}")

    return __getattr__
