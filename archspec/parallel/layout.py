"""A parallel layout: how many devices along each dimension, and the memory-saving options."""

from __future__ import annotations

from dataclasses import dataclass

from archspec.dims import Value, is_concrete
from archspec.errors import ArchspecError

RECOMPUTE = ("none", "selective", "full", "per-block")
EP_DISPATCH = ("expert", "node")
DEVICES_PER_NODE = 8  # an HGX/DGX node, when neither --node-size nor a device says


class LayoutError(ArchspecError):
    """A parallel layout that cannot run this network (heads not divisible by tp, ...)."""


@dataclass(frozen=True)
class Layout:
    """Data (dp), tensor (tp), pipeline (pp), context (cp) and expert (ep) parallel sizes;
    sequence parallelism (sp, with tp); ZeRO stage (3: FSDP) or Megatron's distributed
    optimizer; activation recomputation; micro-batches per step and interleaved
    (virtual) stages per device. The spec's batch B is the micro-batch, per data-parallel
    rank. first/last_stage_layers pin the layers of the first and last pipeline stages
    (Megatron's decoder_first/last_pipeline_num_layers); the rest split evenly.
    ep_dispatch is how routed tokens travel: "expert", one copy per (token, expert) in an
    all-to-all (Megatron's dispatcher), or "node", one copy per destination node, forwarded
    over the node's links to the experts' devices (DeepSeek-V3's DeepEP kernels); node_size
    is the devices per node (None: the device's, else DEVICES_PER_NODE)."""

    dp: Value = 1
    tp: Value = 1
    pp: int = 1
    cp: Value = 1
    ep: Value = 1
    sp: bool = False
    zero: int = 0
    distributed_optimizer: bool = False
    recompute: str = "none"
    microbatches: Value = 1
    virtual_stages: int = 1
    first_stage_layers: int | None = None
    last_stage_layers: int | None = None
    ep_dispatch: str = "expert"
    node_size: int | None = None

    @property
    def devices(self) -> Value:
        return self.dp * self.tp * self.pp * self.cp

    @property
    def devices_per_node(self) -> int:
        return self.node_size or DEVICES_PER_NODE

    @property
    def shards_optimizer(self) -> bool:
        """Whether optimizer state and master weights are sharded over data parallelism."""
        return self.zero >= 1 or self.distributed_optimizer

    def check(self) -> None:
        """Fail on sizes that make no layout (the network's own checks come with the analysis)."""
        for name in ("dp", "tp", "cp", "ep", "microbatches"):
            value = getattr(self, name)
            if is_concrete(value) and value < 1:
                raise LayoutError(f"--{name.replace('_', '-')} must be at least 1, found {value}")
        for name in ("pp", "virtual_stages"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise LayoutError(f"--{name.replace('_', '-')} must be a whole number of at least 1 (stages are assigned by index), found {value}")
        if self.zero not in (0, 1, 2, 3):
            raise LayoutError(f"--zero takes 0, 1, 2 or 3 (3: FSDP), found {self.zero}")
        if self.recompute not in RECOMPUTE:
            raise LayoutError(f"--recompute takes {', '.join(RECOMPUTE)}, found {self.recompute!r}")
        if self.ep_dispatch not in EP_DISPATCH:
            raise LayoutError(f"--ep-dispatch takes {', '.join(EP_DISPATCH)}, found {self.ep_dispatch!r}")
        if self.node_size is not None and (not isinstance(self.node_size, int) or self.node_size < 1):
            raise LayoutError(f"--node-size must be a whole number of at least 1, found {self.node_size}")
        if self.virtual_stages > 1 and self.pp == 1:
            raise LayoutError("--virtual-stages interleaves pipeline stages: it needs --pp of 2 or more")
        if self.ep != 1 and is_concrete(self.ep) and is_concrete(self.dp * self.cp) and (self.dp * self.cp) % self.ep:
            raise LayoutError(f"--ep {self.ep} must divide dp * cp = {self.dp * self.cp} (expert ranks are carved from data-parallel ones)")

    def describe(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in ("dp", "tp", "pp", "cp", "ep") if getattr(self, name) != 1]
        parts += ["sp"] if self.sp else []
        parts += [f"zero={self.zero}"] if self.zero else []
        parts += ["distributed optimizer"] if self.distributed_optimizer else []
        parts += [f"recompute={self.recompute}"] if self.recompute != "none" else []
        parts += [f"microbatches={self.microbatches}"] if self.microbatches != 1 else []
        parts += [f"virtual stages={self.virtual_stages}"] if self.virtual_stages != 1 else []
        parts += ["node-limited expert dispatch"] if self.ep_dispatch == "node" and self.ep != 1 else []
        return ", ".join(parts) or "one device"
