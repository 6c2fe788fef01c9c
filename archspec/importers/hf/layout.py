"""Pieces the encoder and encoder-decoder families (encoders.py, seq2seq.py) share: the class an
architectures entry names, a chain of layers with the config's dropouts, attention with the
import's kernel, the label count of a classification head."""

from __future__ import annotations

from typing import Any

from archspec.importers.draft import Comment
from archspec.importers.hf import Options
from archspec.importers.hf.config import HFConfig

Entry = dict[str, Any] | Comment


def model_class(config: HFConfig, classes: tuple[str, ...], default: str) -> str:
    """The class the architectures entry names, one of `classes`; `default` without the key."""
    if not config.architecture:
        return default
    if config.architecture not in classes:
        raise config.error(
            f"= {config.architecture!r}: a class the converter does not build (it builds {', '.join(classes)})",
            "architectures",
        )
    return config.architecture


def class_note(config: HFConfig, built: str) -> str:
    """The header line saying which class the spec is, and why when the config does not name one."""
    if config.architecture:
        return f"Built as {built}, the class the architectures entry names."
    return f"No architectures key: built as {built}."


def num_labels(config: HFConfig, default: int = 2) -> int:
    """A classification head's outputs: num_labels, else the id2label entries (as PreTrainedConfig counts them)."""
    if config.has("num_labels"):
        return config.int("num_labels", minimum=0)
    labels = config.raw("id2label", None)
    if labels is None:
        return default
    if not isinstance(labels, dict):
        raise config.error(f"expected a mapping of label ids to names, found {labels!r}", "id2label")
    return len(labels)


def attention(name: str, options: Options, dropout: float = 0.0, **fields: Any) -> dict[str, Any]:
    """An Attention layer (with the attention weights' dropout where the model has one); HF's eager
    kernel when the import asks for it (the default is fused SDPA)."""
    layer = {"name": name, "type": "Attention", **fields}
    if dropout > 0:
        layer["dropout"] = dropout
    if options.attention == "eager":
        layer["kernel"] = "eager"
    return layer


def dropout_rate(config: HFConfig, key: str, default: float) -> float:
    """A dropout probability: it costs nothing at inference, and its mask counts in training memory."""
    rate = config.float(key, default)
    if not 0 <= rate <= 1:
        raise config.error(f"expected a probability between 0 and 1, found {rate}", key)
    return rate


class Chain:
    """Layers applied in sequence: each reads the previous one's output unless it says `from`;
    `last` names the latest output, so a residual can read it whether or not a dropout came last."""

    def __init__(self, first: str | None = None):
        self.entries: list[Entry] = []
        self.last = first

    def add(self, layer: dict[str, Any]) -> str:
        if self.last is not None and layer.get("from") == self.last:
            layer = {key: value for key, value in layer.items() if key != "from"}  # the default source anyway
        self.entries.append(layer)
        self.last = layer["name"]
        return self.last

    def dropout(self, name: str, rate: float) -> None:
        """A Dropout layer where the model has one (rate > 0); none where the rate is 0."""
        if rate > 0:
            self.add({"name": name, "type": "Dropout", "p": rate})

    def residual(self, name: str, other: str) -> str:
        """The latest output plus `other`."""
        return self.add({"name": name, "type": "Add", "from": [self.last, other]})

    def comment(self, text: str) -> None:
        self.entries.append(Comment(text))
