"""Parameter: a learned tensor with no input."""

import archspec


def test_parameter_counts_its_elements_and_broadcasts_in_a_mul():
    report = archspec.analyze(
        {
            "params": {"C": 6},
            "inputs": {"x": {"shape": [2, "C", 4, 4]}},
            "layers": [
                {"name": "scale", "type": "Parameter", "shape": ["C", 1, 1]},
                {"name": "scaled", "type": "Mul", "from": ["scale", "x"]},
            ],
        }
    )
    scale, scaled = report.layers
    assert (scale.input_shapes, scale.output_shape, scale.params, scale.flops, scale.activations) == ((), (6, 1, 1), 6, 0, 0)
    assert scaled.output_shape == (2, 6, 4, 4) and scaled.flops == 2 * 6 * 4 * 4


def test_a_buffer_counts_in_buffers_and_in_memory_at_its_own_dtype():
    from archspec.memory import MemoryOptions, memory

    spec = {
        "inputs": {"x": {"shape": [1, 4, 49, 49]}},
        "layers": [
            {"name": "index", "type": "Buffer", "shape": [49, 49], "dtype": "int64"},
            {"name": "table", "type": "Parameter", "shape": [169, 4]},
            {"name": "bias", "type": "Take", "from": ["table", "index"]},
            {"name": "heads_first", "type": "Permute", "dims": [2, 0, 1]},
            {"name": "scores", "type": "Add", "from": ["x", "heads_first"]},
        ],
    }
    report = archspec.analyze(spec)
    assert (report.totals["params"], report.totals["buffers"]) == (169 * 4, 49 * 49)
    bytes_ = memory(report, MemoryOptions(training=False, dtype="bf16")).totals["buffers"]
    assert bytes_ == 49 * 49 * 8  # int64 whatever the model's dtype
