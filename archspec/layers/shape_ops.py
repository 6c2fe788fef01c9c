"""Shape changes and near-free ops: Flatten, Reshape, Permute, Identity, Dropout, Mean, ..."""

from __future__ import annotations

from typing import ClassVar, Literal, Union

from pydantic import Field

from archspec.dims import (
    Value,
    ceildiv,
    definitely_equal,
    definitely_less,
    is_concrete,
    product,
)
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import (
    Dim,
    Layer,
    Saved,
    Shape,
    SignedInt,
    TensorParallel,
    exact_div,
    int_list,
    normalize_dim,
    real,
)


@register
class Flatten(Layer):
    """Merges dims start_dim..end_dim into one (a view: no data moved, no cost)."""

    type: Literal["Flatten"]
    view = True
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
    view = True

    def output_shape(self, x: Shape) -> Shape:
        return x


@register
class Contiguous(Layer):
    """Tensor.contiguous(): a copy into row-major order when needed; no FLOPs, and data
    movement is not counted."""

    type: Literal["Contiguous"]
    default_call = "function"

    def output_shape(self, x: Shape) -> Shape:
        return x


@register
class Dropout(Layer):
    """Random zeroing in training; the identity at inference, so it costs nothing here."""

    type: Literal["Dropout"]
    p: real(0, 1) = Field(0.5, description="the probability of zeroing an element in training")
    inplace: bool = False

    def is_view(self, training: bool) -> bool:
        return not training or self.p == 0  # PyTorch returns the input itself then

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        # The keep mask: bytes on CUDA (fused kernel), the activation dtype on CPU (archspec.memory).
        return (Saved(numel=product(out), dtype="dropout_mask"),) if self.p > 0 else ()

    def output_shape(self, x: Shape) -> Shape:
        return x


def _check_permutation(dims: tuple[int, ...], rank: int) -> tuple[int, ...]:
    normalized = tuple(normalize_dim(d, rank, "dims") for d in dims)
    if sorted(normalized) != list(range(rank)):
        raise LayerError(f"dims {list(dims)} is not a permutation of the {rank} dims of the input")
    return normalized

    def tensor_parallel(self, tp, split, x):
        """elementwise: runs on a split tensor as it is."""
        return TensorParallel("elementwise", 0)


@register
class Permute(Layer):
    """Reorders the dims (Tensor.permute): output dim i is input dim dims[i]. A view: no cost."""

    type: Literal["Permute"]
    default_call = "function"
    view = True
    dims: list[Dim] = Field(min_length=1)

    def output_shape(self, x: Shape) -> Shape:
        if len(self.dims) != len(x):
            raise LayerError(f"dims {list(self.dims)} has {len(self.dims)} entries for a {len(x)}-D input")
        return tuple(x[d] for d in _check_permutation(tuple(self.dims), len(x)))


@register
class Transpose(Layer):
    """Swaps two dims (Tensor.transpose). A view: no cost."""

    type: Literal["Transpose"]
    default_call = "function"
    view = True
    dim0: Dim
    dim1: Dim

    def output_shape(self, x: Shape) -> Shape:
        a, b = normalize_dim(self.dim0, len(x), "dim0"), normalize_dim(self.dim1, len(x), "dim1")
        out = list(x)
        out[a], out[b] = x[b], x[a]
        return tuple(out)


def _fill_unknown(sizes: tuple[Value, ...], elements: Value, what: str) -> tuple[Value, ...]:
    """Sizes with at most one -1, which becomes whatever makes the element count match."""
    unknown = [i for i, s in enumerate(sizes) if is_concrete(s) and s == -1]
    if len(unknown) > 1:
        raise LayerError(f"{what} has {len(unknown)} entries of -1; at most one can be inferred")
    for s in sizes:
        if is_concrete(s) and s < 1 and s != -1:
            raise LayerError(f"{what} has a size {s}; sizes are positive, or -1 for the one to infer")
    known = product(s for i, s in enumerate(sizes) if i not in unknown)
    if unknown:
        inferred = exact_div(elements, known, f"{what}: the input's {elements} elements cannot be split by {known}")
        return tuple(inferred if i in unknown else s for i, s in enumerate(sizes))
    if not definitely_equal(known, elements):
        raise LayerError(f"{what} holds {known} elements, but the input has {elements}")
    return sizes


SizesWithInferred = int_list(-1, "the sizes; one of them may be -1, inferred from the element count")


@register
class Reshape(Layer):
    """Tensor.view/reshape to `shape` (the whole shape, batch dim included). No cost."""

    type: Literal["Reshape"]
    default_call = "function"
    view = True
    shape: SizesWithInferred

    def output_shape(self, x: Shape) -> Shape:
        return _fill_unknown(self.shape, product(x), f"shape {list(self.shape)}")


@register
class Unflatten(Layer):
    """Splits dim `dim` into `unflattened_size` (torch.nn.Unflatten), e.g. the channel
    shuffle's (N, C, H, W) -> (N, g, C/g, H, W). A view: no cost."""

    type: Literal["Unflatten"]
    view = True
    dim: Dim
    unflattened_size: SizesWithInferred

    def output_shape(self, x: Shape) -> Shape:
        dim = normalize_dim(self.dim, len(x))
        sizes = _fill_unknown(self.unflattened_size, x[dim], f"unflattened_size {list(self.unflattened_size)}")
        return (*x[:dim], *sizes, *x[dim + 1 :])


@register
class Mean(Layer):
    """Mean over `dim` (Tensor.mean), e.g. global pooling as x.mean([2, 3]).

    - other FLOPs = numel(input): the adds of each reduction and one division per output
    """

    type: Literal["Mean"]
    default_call = "function"
    dim: Union[Dim, list[Dim]]
    keepdim: bool = False

    def output_shape(self, x: Shape) -> Shape:
        dims = self.dim if isinstance(self.dim, list) else [self.dim]
        reduced = {normalize_dim(d, len(x)) for d in dims}
        if len(reduced) != len(dims):
            raise LayerError(f"dim {self.dim} names a dim twice")
        if self.keepdim:
            return tuple(1 if i in reduced else s for i, s in enumerate(x))
        return tuple(s for i, s in enumerate(x) if i not in reduced)

    def other_flops(self, x: Shape, out: Shape) -> Value:
        return product(x)


@register
class CenterCrop(Layer):
    """Crops the trailing dims to their centre (slicing: a view, no cost).

    The target is `size` (one value per cropped dim, from the last dims backwards), or,
    with a second input, that input's trailing dims after the first two (U-Net's crop of
    the skip connection to the upsampled map).
    """

    type: Literal["CenterCrop"]
    default_call = "function"
    view = True
    size: int_list(1, "target sizes of the last len(size) dims") | None = None
    arity: ClassVar[tuple[int, int | None]] = (1, 2)

    def output_shape(self, x: Shape, like: Shape | None = None) -> Shape:
        if (like is None) == (self.size is None):
            raise LayerError("give either size or a second input to crop to (not both)")
        target = tuple(self.size) if like is None else tuple(like[2:])
        if len(target) > len(x):
            raise LayerError(f"cannot crop {len(target)} dims of a {len(x)}-D input")
        kept = x[: len(x) - len(target)]
        for have, want in zip(x[len(kept) :], target):
            if definitely_less(have, want):
                raise LayerError(f"cannot crop a size {have} to {want}, which is larger")
        return (*kept, *target)


@register
class Slice(Layer):
    """x[..., start:end:step, ...] along `dim` (Python slicing; a view, no cost).
    Negative start/end count from the end; end None means the whole dim."""

    type: Literal["Slice"]
    default_call = "function"
    view = True
    dim: Dim
    start: int = 0
    end: SignedInt | None = Field(None, description="an int or an expression of params (e.g. L); None: to the end")
    step: int = Field(1, ge=1)

    def output_shape(self, x: Shape) -> Shape:
        dim = normalize_dim(self.dim, len(x))
        size = x[dim]
        end = self.end
        if is_concrete(size) and (end is None or is_concrete(end)):
            length = len(range(*slice(self.start, end, self.step).indices(size)))
        elif self.start >= 0 and (end is None or not (is_concrete(end) and end < 0)):
            # A free end is taken to lie within the dim (the formula holds where the slice is valid).
            if end is not None and definitely_less(size, end):
                raise LayerError(f"end={end} is beyond the dim of size {size}")
            length = ceildiv((size if end is None else end) - self.start, self.step)
        else:
            raise LayerError("a negative start or end needs a dim size that is a number")
        if is_concrete(length) and length < 1:
            raise LayerError(f"the slice {self.start}:{self.end}:{self.step} of a dim of size {size} is empty")
        return (*x[:dim], length, *x[dim + 1 :])


@register
class Index(Layer):
    """x[..., index, ...] along `dim`: the dim disappears (e.g. a class token, x[:, 0]). A view, no cost."""

    type: Literal["Index"]
    default_call = "function"
    view = True
    dim: Dim
    index: int = 0

    def output_shape(self, x: Shape) -> Shape:
        dim = normalize_dim(self.dim, len(x))
        if is_concrete(x[dim]) and not -x[dim] <= self.index < x[dim]:
            raise LayerError(f"index {self.index} is out of range for a dim of size {x[dim]}")
        return (*x[:dim], *x[dim + 1 :])


@register
class Expand(Layer):
    """Broadcasts size-1 dims to `sizes` (Tensor.expand; -1 keeps a dim; new leading dims
    may be added). A view, no cost."""

    type: Literal["Expand"]
    default_call = "function"
    view = True
    sizes: SizesWithInferred

    def output_shape(self, x: Shape) -> Shape:
        new = len(self.sizes) - len(x)
        if new < 0:
            raise LayerError(f"sizes {list(self.sizes)} has fewer dims than the input {len(x)}")
        out = list(self.sizes[:new])
        for have, want in zip(x, self.sizes[new:]):
            if is_concrete(want) and want == -1:
                out.append(have)
            elif definitely_equal(have, want) or (is_concrete(have) and have == 1):
                out.append(want)
            else:
                raise LayerError(f"cannot expand a dim of size {have} to {want} (only size-1 dims expand)")
        if any(is_concrete(d) and d < 1 for d in out[:new]):
            raise LayerError(f"new leading dims must be positive sizes, found {list(self.sizes)}")
        return tuple(out)
