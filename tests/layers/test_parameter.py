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
