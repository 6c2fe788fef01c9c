"""Position layers (archspec/layers/position.py): rotary tables, relative position bias, ALiBi."""

from tests.helpers import analyze_one


def test_rotary_table_holds_cos_and_sin_for_each_position():
    row = analyze_one([3, 10], {"type": "RotaryEmbedding", "dim": 8})
    assert row.output_shape == (1, 10, 16)  # positions shared by the batch, as HF's position_ids
    # positions x inverse frequencies (L * dim/2 multiplies), then cos and sin (L * dim each)
    assert (row.params, row.macs, row.flops) == (0, 0, 10 * 4 + 2 * 10 * 8)
    assert row.buffers == 8  # inv_freq and original_inv_freq, dim/2 each


def test_relative_position_bias_is_a_table_per_bucket_and_head():
    row = analyze_one([2, 12, 64], {"type": "RelativePositionBias", "num_heads": 4, "num_buckets": 32})
    assert row.output_shape == (1, 4, 12, 12)
    assert row.params == 32 * 4
    assert row.flops == 4 * 12 * 12  # the bucket's log per (query, key): divide, log, divide, multiply


def test_alibi_bias_is_a_slope_times_each_key_position():
    row = analyze_one([2, 12, 64], {"type": "AlibiBias", "num_heads": 4})
    assert (row.output_shape, row.params, row.flops) == ((1, 4, 1, 12), 0, 4 * 12)
