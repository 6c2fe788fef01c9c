"""Layers that cost nothing in an inference pass: Flatten, Identity, Dropout."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.dims import product
from archspec.layers import register
from archspec.layers.base import Dim, Layer, Shape, normalize_dim
from archspec.errors import LayerError


@register
class Flatten(Layer):
    """Merges dims start_dim..end_dim into one (a view: no data moved, no cost)."""

    type: Literal["Flatten"]
    start_dim: Dim = 1
    end_dim: Dim = -1

    def output_shape(self, x: Shape) -> Shape:
        if len(x) == 0:
            return (1,)
        start = normalize_dim(self.start_dim, len(x), "start_dim")
        end = normalize_dim(self.end_dim, len(x), "end_dim")
        if start > end:
            raise LayerError(f"start_dim {self.start_dim} comes after end_dim {self.end_dim} for a {len(x)}-D input")
        return (*x[:start], product(x[start : end + 1]), *x[end + 1 :])


@register
class Identity(Layer):
    """Returns its input unchanged."""

    type: Literal["Identity"]

    def output_shape(self, x: Shape) -> Shape:
        return x


@register
class Dropout(Layer):
    """Random zeroing in training; the identity at inference, so it costs nothing here."""

    type: Literal["Dropout"]
    p: float = Field(0.5, ge=0, le=1)
    inplace: bool = False

    def output_shape(self, x: Shape) -> Shape:
        return x
