"""The registry of layer types: one small module per family, found automatically.

Adding a layer type means adding a class decorated with `@register` to a module in
this package (a new module is discovered without touching anything else).
"""

from __future__ import annotations

import importlib
import pkgutil
import typing

from archspec.layers.base import Layer

REGISTRY: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer type available to specs under its `type` tag(s)."""
    for tag in typing.get_args(cls.model_fields["type"].annotation):
        if tag in REGISTRY:
            raise RuntimeError(f"layer type {tag!r} is registered twice ({REGISTRY[tag].__name__}, {cls.__name__})")
        REGISTRY[tag] = cls
    return cls


def register_variants(base: type[Layer], prefix: str, namespace: dict) -> None:
    """Register the 1d, 2d and 3d classes of one family (MaxPool1d, ...) into `namespace`."""
    from typing import Literal

    for n in (1, 2, 3):
        name = f"{prefix}{n}d"
        attributes = {
            "__doc__": base.__doc__,
            "__module__": namespace["__name__"],
            "__annotations__": {"type": Literal[name]},
            "spatial_dims": n,
        }
        namespace[name] = register(type(name, (base,), attributes))


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_discover()
