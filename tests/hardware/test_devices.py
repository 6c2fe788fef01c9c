"""The device table (archspec/hardware/devices.yaml): complete, sourced, and a user's own device file."""

import pytest

from archspec.hardware import DeviceError, devices, get_device

REQUIRED = ("a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200-sxm", "b200", "mi300x", "l4", "rtx4090", "tpu-v5e", "tpu-v5p")


def test_every_required_device_has_sourced_figures():
    known = devices()
    for key in REQUIRED:
        device = known[key]
        assert device.matmul_flops("bf16") > device.vector_flops("fp32") > 0
        assert device.memory > 1e9 and device.memory_bandwidth > 1e11
        for figure in ("compute", "memory", "intra_node", "inter_node"):
            assert len(device.sources.get(figure, "")) > 10, (key, figure)


def test_a_users_device_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("""
my-npu:
  name: My NPU
  memory: {capacity: 64.0e+9, bandwidth: 1.0e+12}
  matmul: {bf16: 400.0e+12}
  vector: {fp32: 20.0e+12}
  links: {intra_node: 100.0e+9, inter_node: 25.0e+9, devices_per_node: 4}
  sources: {compute: my datasheet}
""")
    device = get_device(str(path))
    assert (device.name, device.matmul_flops("bf16"), device.devices_per_node) == ("My NPU", 400e12, 4)
    with pytest.raises(DeviceError, match="has no matrix throughput for fp8"):
        device.matmul_flops("fp8")


def test_unknown_devices_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(DeviceError, match="did you mean 'h100-sxm'"):
        get_device("h100-smx")
    bad = tmp_path / "bad.yaml"
    bad.write_text("x: {name: X, memory: {capacity: -1, bandwidth: 1}, matmul: {}, links: {intra_node: 1, inter_node: 1}}")
    with pytest.raises(DeviceError, match="memory.capacity: expected a positive number"):
        get_device(str(bad))
