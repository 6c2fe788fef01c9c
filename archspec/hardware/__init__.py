"""Named accelerators: peak throughput per dtype, memory, links (devices.yaml, a data file).

    device = get_device("h100-sxm")          # or a path to a YAML file of the same form
    device.matmul_flops("bf16"), device.memory_bandwidth, device.intra_node_bandwidth

Every figure in devices.yaml names its source (a vendor datasheet); `archspec devices`
prints the table. Throughputs are dense (no structured sparsity), bandwidths in bytes per
second per device and per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import ArchspecError, did_you_mean

DATA = Path(__file__).with_name("devices.yaml")
DTYPE_ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64", "tf32": "tf32"}


class DeviceError(ArchspecError):
    """An unknown device, or a device file that is not well formed."""


@dataclass(frozen=True)
class Device:
    """One accelerator's figures (bytes, FLOP/s), with their sources."""

    key: str
    name: str
    memory: float  # bytes
    memory_bandwidth: float  # bytes/s
    matmul: dict[str, float]  # dtype -> dense matrix FLOP/s
    vector: dict[str, float]  # dtype -> non-matrix FLOP/s
    intra_node_bandwidth: float  # bytes/s per direction, to the other devices of the node
    inter_node_bandwidth: float  # bytes/s per direction, per device, off the node
    devices_per_node: int
    sources: dict[str, str] = field(default_factory=dict)

    def matmul_flops(self, dtype: str) -> float:
        """Peak dense matrix throughput in this dtype (FLOP/s)."""
        return self._lookup(self.matmul, dtype, "matrix")

    def vector_flops(self, dtype: str) -> float:
        """Peak non-matrix throughput in this dtype (FLOP/s): the dtype's own figure, else FP32's."""
        dtype = DTYPE_ALIASES.get(dtype, dtype)
        if dtype in self.vector:
            return self.vector[dtype]
        return self._lookup(self.vector, "fp32", "vector")

    def _lookup(self, table: dict[str, float], dtype: str, what: str) -> float:
        dtype = DTYPE_ALIASES.get(dtype, dtype)
        if dtype not in table or not table[dtype]:
            known = ", ".join(k for k, v in table.items() if v)
            raise DeviceError(f"{self.name} has no {what} throughput for {dtype} (it has: {known})")
        return table[dtype]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise DeviceError(f"{where}: expected a positive number, found {value!r}")
    return float(value)


def _device(key: str, data: dict[str, Any], origin: str) -> Device:
    where = f"{origin}: device {key!r}"
    if not isinstance(data, dict):
        raise DeviceError(f"{where}: expected a mapping of figures")
    try:
        memory, links = data["memory"], data["links"]
        return Device(
            key=key,
            name=str(data.get("name", key)),
            memory=_number(memory["capacity"], f"{where} memory.capacity"),
            memory_bandwidth=_number(memory["bandwidth"], f"{where} memory.bandwidth"),
            matmul={dt: _number(v, f"{where} matmul.{dt}") for dt, v in data["matmul"].items() if v is not None},
            vector={dt: _number(v, f"{where} vector.{dt}") for dt, v in data.get("vector", {}).items() if v is not None},
            intra_node_bandwidth=_number(links["intra_node"], f"{where} links.intra_node"),
            inter_node_bandwidth=_number(links["inter_node"], f"{where} links.inter_node"),
            devices_per_node=int(_number(links.get("devices_per_node", 1), f"{where} links.devices_per_node")),
            sources={str(k): str(v) for k, v in data.get("sources", {}).items()},
        )
    except KeyError as exc:
        raise DeviceError(f"{where}: missing {exc.args[0]!r} (needs memory.capacity, memory.bandwidth, matmul, links.intra_node, links.inter_node)") from None
    except (AttributeError, TypeError):
        raise DeviceError(f"{where}: memory, matmul, vector and links are mappings of figures") from None


@lru_cache(maxsize=None)
def devices() -> dict[str, Device]:
    """The known devices, by key (devices.yaml)."""
    data = yaml.safe_load(DATA.read_text())
    return {key: _device(key, value, "devices.yaml") for key, value in data.items()}


def get_device(name: str) -> Device:
    """A known device by key, or the one device a YAML file describes (same form as devices.yaml)."""
    if name in devices():
        return devices()[name]
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise DeviceError(f"cannot read the device file {name}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise DeviceError(f"{name}: invalid YAML: {exc}") from None
        if not isinstance(data, dict) or len(data) != 1:
            raise DeviceError(f"{name}: a device file describes one device: {{key: {{name, memory, matmul, vector, links, sources}}}}")
        key, value = next(iter(data.items()))
        return _device(str(key), value, name)
    raise DeviceError(f"unknown device {name!r}{did_you_mean(name, devices())}; known: {', '.join(devices())} (or a .yaml file)")
