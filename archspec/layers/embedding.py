"""Embedding: a table lookup from integer ids."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.dims import Value, ceildiv
from archspec.layers import register
from archspec.layers.base import SAVES_INPUT, Layer, Saved, Shape, Size, TensorParallel


@register
class Embedding(Layer):
    """Looks up a row of a (num_embeddings, embedding_dim) table for every integer id.
    Input (*) of ids -> (*, embedding_dim).

    - params = num_embeddings * embedding_dim
    - MACs = 0, FLOPs = 0: a lookup copies rows, it computes nothing
    """

    type: Literal["Embedding"]
    num_embeddings: Size
    embedding_dim: Size
    padding_idx: int | None = Field(None, description="an id whose row gets no gradient (no effect on counts)")

    def output_shape(self, x: Shape) -> Shape:
        return (*x, self.embedding_dim)

    def weight_shape(self, x: Shape) -> Shape:
        return (self.num_embeddings, self.embedding_dim)

    def param_count(self, x: Shape) -> Value:
        return self.num_embeddings * self.embedding_dim

    def tensor_parallel(self, tp: Value, split: tuple[bool, ...], x: Shape) -> TensorParallel:
        """vocabulary-parallel: each rank holds ceil(num_embeddings / tp) rows; the lookups are summed."""
        return TensorParallel("vocab", ceildiv(self.num_embeddings, tp) * self.embedding_dim)

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        return SAVES_INPUT  # the ids, to scatter the gradient into the table
