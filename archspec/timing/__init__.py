"""From counts to time on a named device (archspec.hardware): per-layer roofline bounds,
training step time under a parallel layout, inference latency and throughput bounds, and
a search over layouts (docs/performance-model.md).

    rows, totals = roofline(report, device, "bf16")
    step = training_step(report, options, layout, device)   # step.step_time_s, step.mfu, ...

Every time is a bound from the device's peaks, scaled by explicit efficiencies
(`Efficiency`, with documented defaults), never a hidden constant.
"""

from archspec.timing.roofline import Efficiency, RooflineRow, roofline
from archspec.timing.training import StepTime, training_step

__all__ = ["Efficiency", "RooflineRow", "roofline", "StepTime", "training_step"]
