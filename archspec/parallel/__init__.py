"""Beyond one device: per-device memory and communication under a parallel layout.

    layout = Layout(dp=16, tp=8, pp=8, sp=True, microbatches=64, recompute="selective")
    result = parallel_memory(report, MemoryOptions(dtype="bf16", grad_dtype="fp32"), layout)
    result.devices["most_loaded"]["total"], result.communication["tp"]["all_gather"]

From an analyzed report (archspec.engine) and its layers' own rules: how tensor
parallelism splits each layer (`Layer.tensor_parallel`, next to its other rules), how the
pipeline splits the layer stack into stages, what each device keeps (weights, gradients,
optimizer state, master weights, saved activations with the micro-batches in flight), and
what each device sends per training step, by parallel dimension and collective
(docs/parallel.md).
"""

from archspec.parallel.layout import Layout, LayoutError
from archspec.parallel.memory import ParallelMemory, parallel_memory

__all__ = ["Layout", "LayoutError", "ParallelMemory", "parallel_memory"]
