"""HuggingFace config.json -> spec: one builder per model_type, in the family modules here.

A family module registers its builders with `@family("llama", ...)`; each takes an
`HFConfig` and the import `Options` and returns a `Draft` (archspec.importers.draft).
Defaults for missing keys follow transformers' config classes, version 5.24.0.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

from archspec.importers.draft import Draft
from archspec.importers.hf.config import HFConfig

TRANSFORMERS_VERSION = "5.24.0"


@dataclass(frozen=True)
class Options:
    """How to write the imported spec: the attention kernel (fused: SDPA, as HF runs by default;
    eager: HF's eager attention) and the spec's name."""

    attention: str = "fused"
    name: str | None = None


Builder = Callable[[HFConfig, Options], Draft]
FAMILIES: dict[str, Builder] = {}
_SUPPORT = ("config", "parts", "decoder", "classic", "layout")  # shared pieces, not families


def family(*model_types: str) -> Callable[[Builder], Builder]:
    """Register a builder for these model types."""

    def register(builder: Builder) -> Builder:
        for model_type in model_types:
            FAMILIES[model_type] = builder
        return builder

    return register


def _load_families() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _SUPPORT:
            importlib.import_module(f"{__name__}.{module.name}")


def supported() -> list[str]:
    """The model types the converter builds."""
    _load_families()
    return sorted(FAMILIES)


def import_config(data: dict[str, Any], file: str | None, options: Options = Options()) -> Draft:
    """The draft spec of a config.json's model."""
    _load_families()
    config = HFConfig(data, file)
    builder = FAMILIES.get(config.model_type)
    if builder is None:
        raise config.error(f"is not a supported model type; supported: {', '.join(sorted(FAMILIES))}", "model_type")
    draft = builder(config, options)
    if options.name:
        draft.name = options.name
    return draft
