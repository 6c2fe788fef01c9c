"""The one exception family of archspec.

Inner code raises short facts (`LayerError`, `ExprError`); the boundary that knows
the file, the YAML line and the layer re-raises them as a `SpecError` that lists
every problem with its location, so a user sees one clean message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


class ArchspecError(Exception):
    """Base class of every error archspec raises on purpose."""


class ExprError(ArchspecError):
    """An expression in a spec field could not be parsed or evaluated."""


class LayerError(ArchspecError):
    """A layer rule rejected its arguments or input shape (no location yet)."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a spec: where it is and what was expected."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    where: str | None = None

    def __str__(self) -> str:
        place = self.file or "<spec>"
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        where = f" {self.where}:" if self.where else ""
        return f"{place}:{where} {self.message}"


class SpecError(ArchspecError):
    """A spec is invalid: one or more located problems."""

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems in the spec:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class ShapeError(SpecError):
    """Shape inference failed at a layer."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """A ' did you mean ...?' hint, or '' when nothing is close."""
    import difflib  # only when a name is wrong

    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if not matches:
        lowered = {k.lower(): k for k in known}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"; did you mean '{matches[0]}'?" if matches else ""
