"""Pipeline parallelism: which rows each stage runs, and how many micro-batches it keeps.

The layer stack is the applications of the spec's top-level blocks, in order (each
application of a repeated block is one layer; a decoder's 32 DecoderLayers, T5's encoder
then decoder layers). They split into pp stages evenly (first/last_stage_layers pin the
first and last stages, Megatron's decoder_first/last_pipeline_num_layers), or into
pp * v chunks with interleaving, chunk c on device c mod pp. Top-level layers before the
first block (embeddings) go to the first stage; the others to the stage of the layer
before them (the final norm and head to the last). A block repeated a free number of
times has no index to assign: its layers count 1/pp on every stage.
"""

from __future__ import annotations

from fractions import Fraction

from archspec.dims import Value, minimum
from archspec.parallel.layout import Layout, LayoutError
from archspec.report import LayerRow, Report


def units_of(report: Report) -> list[tuple[str, ...]]:
    """The layer stack: the key of each application of a top-level block, in order."""
    units: list[tuple[str, ...]] = []
    for row in report.layers:
        key = _unit_key(row)
        if key is not None and (not units or units[-1] != key):
            units.append(key)
    return units


def _unit_key(row: LayerRow) -> tuple[str, ...] | None:
    if len(row.path) < 2:
        return None  # a top-level layer, not a block
    if row.path[1].isdigit() or row.path[1] == "*":
        return None if len(row.path) < 3 else row.path[:2]  # an application of a repeated entry
    return row.path[:1]


def stage_fractions(report: Report, layout: Layout) -> list[dict[int, Value]]:
    """For each row, the devices (pipeline stages) that run it, with the share each runs
    (1 for a row of a concrete layer; 1/pp of a free repeat's on every stage)."""
    pp, chunks = layout.pp, layout.pp * layout.virtual_stages
    units = units_of(report)
    free = [key for key in units if key[-1] == "*"]
    concrete = [key for key in units if key[-1] != "*"]
    chunk_of = _assign(concrete, chunks, layout) if concrete else {}
    shares: list[dict[int, Value]] = []
    current = 0
    for row in report.layers:
        key = _unit_key(row)
        if key is not None and key[-1] == "*":
            shares.append({device: Fraction(1, pp) for device in range(pp)})
            continue
        if key is not None:
            current = chunk_of[key]
        shares.append({current % pp: 1})
    if free and concrete:
        raise LayoutError("a free repeat beside repeats with numbers: bind the layer counts (--set) to split the pipeline")
    return shares


def _assign(units: list[tuple[str, ...]], chunks: int, layout: Layout) -> dict[tuple[str, ...], int]:
    count = len(units)
    sizes = _chunk_sizes(count, chunks, layout)
    chunk_of, start = {}, 0
    for chunk, size in enumerate(sizes):
        for key in units[start : start + size]:
            chunk_of[key] = chunk
        start += size
    return chunk_of


def _chunk_sizes(count: int, chunks: int, layout: Layout) -> list[int]:
    first, last = layout.first_stage_layers, layout.last_stage_layers
    if chunks == 1:
        return [count]
    if first is None and last is None:
        if count % chunks:
            interleaved = f" x {layout.virtual_stages} virtual stages" if layout.virtual_stages > 1 else ""
            hint = _even_pinning(count, chunks) if layout.virtual_stages == 1 else None
            example = f" (e.g. --first-stage-layers {hint} --last-stage-layers {hint})" if hint is not None else ""
            raise LayoutError(
                f"the network has {count} layers, not divisible by pp={layout.pp}{interleaved}; pin the first and last "
                f"stages with --first-stage-layers / --last-stage-layers{example}"
            )
        return [count // chunks] * chunks
    if layout.virtual_stages > 1:
        raise LayoutError("--first-stage-layers / --last-stage-layers work without --virtual-stages")
    pinned = (first or 0) + (last or 0)
    middle = chunks - (first is not None) - (last is not None)
    rest = count - pinned
    if rest < 0 or (middle and rest % middle) or (not middle and rest):
        raise LayoutError(
            f"{count} layers with {first} on the first stage and {last} on the last leave {rest} for {middle} other "
            "stages, not an even split"
        )
    even = rest // middle if middle else 0
    return ([first] if first is not None else []) + [even] * middle + ([last] if last is not None else [])


def _even_pinning(count: int, stages: int) -> int | None:
    """The largest equal layer count for the first and last stages that splits the rest evenly over
    the middle stages, without giving the pinned stages more than the others."""
    if stages < 3:
        return None
    for pinned in range(count // stages, 0, -1):
        rest = count - 2 * pinned
        if rest > 0 and rest % (stages - 2) == 0 and rest // (stages - 2) >= pinned:
            return pinned
    return None


def in_flight(device: int, layout: Layout) -> Value:
    """Micro-batches whose activations a device holds at once in the 1F1B schedule: stage d
    keeps min(pp - d, m); interleaving with v chunks multiplies by 1 + (pp - 1)/(pp * v)."""
    pp, m = layout.pp, layout.microbatches
    count = minimum(pp - device, m)
    if layout.virtual_stages > 1:
        return count * (1 + Fraction(pp - 1, pp * layout.virtual_stages))
    return count
