"""The one timing helper of the benchmarks."""

from __future__ import annotations

import time


def best_of(function, repeats: int) -> float:
    """The best wall time of `repeats` calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
