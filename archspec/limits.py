"""Resource limits: a spec that exceeds one fails with a clear error instead of a hang.

The expression grammar (`archspec.expr`: 500 characters, 40 nesting levels, results
below 2**256) and the YAML reader (`archspec.source`: 100,000 values after alias
expansion, 64 nesting levels) have fixed limits; the ones below depend on the network
and can be raised: `archspec.analyze(spec, limits=Limits(max_layers=10**6))`, or
`archspec analyze --limit max_layers=1000000`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    """Bounds on the size of an analysis."""

    max_layers: int = 50_000  # layers after unrolling blocks and repeats (about 1 s of analysis)
    max_repeat: int = 10_000  # a repeat count, when it is a number
    max_dim: int = 2**48  # any tensor dimension (2.8e14): beyond it a size is surely a mistake

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


DEFAULT_LIMITS = Limits()
