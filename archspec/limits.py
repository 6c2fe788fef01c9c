"""Resource limits: a spec that exceeds one fails with a clear error instead of a hang.

Every bound here can be raised: `archspec.analyze(spec, limits=Limits(max_layers=10**6))`, or
`archspec analyze --limit max_layers=1000000` on any command. While a spec is read and analyzed
the chosen limits are the active ones (`active()`), so the YAML reader and the expression
evaluator see them without passing them through every call. The expression grammar's own
bounds (500 characters, 40 nesting levels, formulas of degree 64 and 2,000 terms) and the YAML
nesting depth (64) are fixed: no network needs more, and they protect the parser itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Iterator


@dataclass(frozen=True)
class Limits:
    """Bounds on the size of an analysis."""

    max_layers: int = 50_000  # layers after unrolling blocks and repeats (about 1 s of analysis)
    max_repeat: int = 10_000  # a repeat count, when it is a number
    max_dim: int = 2**48  # any tensor dimension (2.8e14): beyond it a size is surely a mistake
    max_bits: int = 256  # any exact number, numerator and denominator (2**256 is 1.2e77); stops 2**2**2**40
    max_file_bytes: int = 8 * 2**20  # a spec file; a 50,000-layer spec is about 2 MB
    max_values: int = 100_000  # values in a YAML document after alias expansion; stops billion-laughs documents
    max_scalar_chars: int = 10_000  # one string value: a name or a description is far shorter

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @property
    def max_digits(self) -> int:
        """Decimal digits of the longest integer a spec may write (100 at the default 256 bits)."""
        return self._max_decimal_exponent + 23

    @property
    def max_literal_exponent(self) -> int:
        """The largest exponent a number literal may write (1e80 at the default 256 bits)."""
        return self._max_decimal_exponent + 3

    @property
    def _max_decimal_exponent(self) -> int:
        return self.max_bits * 30103 // 100000  # log10(2**max_bits), rounded down


DEFAULT_LIMITS = Limits()

_ACTIVE: ContextVar[Limits] = ContextVar("archspec_limits", default=DEFAULT_LIMITS)


def active() -> Limits:
    """The limits in force: the ones an analysis was given, else the defaults."""
    return _ACTIVE.get()


@contextmanager
def applied(limits: Limits | None) -> Iterator[Limits]:
    """Make `limits` (None: the active ones) the active limits inside the block."""
    chosen = limits or _ACTIVE.get()
    token = _ACTIVE.set(chosen)
    try:
        yield chosen
    finally:
        _ACTIVE.reset(token)


def raise_hint(name: str) -> str:
    """How to raise the limit `name` (a clause for an error message)."""
    return f"raise it with --limit {name}=N if you mean it"
