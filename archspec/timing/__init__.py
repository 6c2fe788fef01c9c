"""From counts to time on a named device (archspec.hardware): per-layer roofline bounds,
training step time under a parallel layout, inference latency and throughput bounds, and
a search over layouts (docs/performance-model.md).

    rows, totals = roofline(report, device, "bf16")
    step = training_step(report, options, layout, device)   # step.step_time_s, step.mfu, ...

Every time is a bound from the device's peaks, scaled by explicit efficiencies
(`Efficiency`, with documented defaults), never a hidden constant.
"""

from typing import TYPE_CHECKING

# roofline is light; training (the parallel memory model, pydantic) is loaded on first use, so
# that `archspec devices` reaches this package without the analysis
from archspec.timing.roofline import Efficiency, RooflineRow, roofline

__all__ = ["Efficiency", "RooflineRow", "roofline", "StepTime", "training_step"]

if TYPE_CHECKING:
    from archspec.timing.training import StepTime, training_step


def __getattr__(name: str):
    if name not in ("StepTime", "training_step"):
        raise AttributeError(f"module 'archspec.timing' has no attribute {name!r}")
    from archspec.timing import training

    value = getattr(training, name)
    globals()[name] = value
    return value
