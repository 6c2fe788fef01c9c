"""The timing helpers of the benchmarks."""

from __future__ import annotations

import resource
import time


def best_of(function, repeats: int) -> float:
    """The best wall time of `repeats` calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(function) -> tuple[float, float]:
    """Wall seconds of one call, and the system CPU seconds it took (mostly first touches of memory)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    start = time.perf_counter()
    function()
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_SELF).ru_stime - before
