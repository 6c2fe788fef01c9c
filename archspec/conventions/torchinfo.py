"""torchinfo 1.8.0 summary(): "Mult-Adds" derived from parameter counts.

Rule from torchinfo/layer_info.py (LayerInfo.calculate_macs) and model_statistics.py:
only leaf modules with parameters count. A module whose class name contains "Conv"
counts params * N * prod(output spatial dims); recurrent layers (weight_ih_l0 ...)
count params * output dims 0 and 1; every other module params * output dim 0.
nn.MultiheadAttention is not a leaf (its out_proj child never runs as a module): 0.
"""

from __future__ import annotations

from archspec.conventions import Convention, Cost, Facts, define, each, mac
from archspec.dims import product


def conv(f: Facts) -> Cost:
    """params * N * prod(out spatial dims) (a transposed conv too: its output positions)"""
    return mac(f.params * f.out[0] * product(f.out[2:])) if f.is_module else Cost()


def recurrent(f: Facts) -> Cost:
    """params * output dims 0 and 1"""
    return mac(f.params * f.out[0] * f.out[1]) if f.is_module else Cost()


def by_first_dim(f: Facts) -> Cost:
    """params * output dim 0 (the batch, for a (N, L, D) sequence too)"""
    return mac(f.params * f.out[0]) if f.is_module else Cost()


TORCHINFO = define(
    Convention(
        name="torchinfo",
        summary="torchinfo Mult-Adds: parameters x output positions for convs, parameters x output dim 0 for "
        "every other leaf module with parameters",
        peer="torchinfo 1.8.0",
        source="torchinfo/layer_info.py, torchinfo/model_statistics.py",
        prints="macs",
        rules={
            **each("Conv*d ConvTranspose*d", conv),
            **each("RNN GRU LSTM", recurrent),
            **each(
                "Linear Embedding BatchNorm*d InstanceNorm*d LayerNorm GroupNorm RMSNorm Attention",
                by_first_dim,
            ),
        },
        bugs={
            "Linear": "multiplies by output dim 0 only: a (N, L, D) input counts one position per sequence (torchinfo#226)",
            **each("ConvTranspose*d", "counts output positions, not input positions, for a transposed conv"),
            "MultiheadAttention": "0: not a leaf module, and its out_proj never runs as a module",
            "Embedding": "counts a lookup table as multiply-adds: params * output dim 0",
        },
    )
)
