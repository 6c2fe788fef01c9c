"""archspec's own counts (docs/counting.md) and torchvision's published figures."""

from __future__ import annotations

from archspec.conventions import Convention, Cost, Facts, define, mac


def own_count(f: Facts) -> Cost:
    """archspec's rule for the layer type (docs/counting.md)"""
    return f.own


def own_backward(f: Facts, forward: Cost) -> int:
    """Each MAC of the forward pass is two matmul-like MACs backward (input and weight gradients)."""
    return 4 * forward.macs


def multiply_accumulates(f: Facts) -> Cost:
    """archspec's MACs; no other FLOPs"""
    return mac(f.own.macs)


ARCHSPEC = define(
    Convention(
        name="archspec",
        summary="MACs of conv, linear, matmul, attention and recurrent layers; FLOPs = 2 MACs + every other "
        "elementary op (docs/counting.md)",
        peer="archspec",
        source="archspec/layers/*.py",
        prints="macs and flops",
        rules={},
        default_rule=own_count,
        backward=own_backward,
    )
)

TORCHVISION = define(
    Convention(
        name="torchvision",
        summary="the GFLOPS column of torchvision's model tables: multiply-accumulates of conv, linear and "
        "attention matmuls only",
        peer="torchvision 0.29 (weights.meta['_ops'])",
        source="torchvision/models/*.py weight metadata",
        prints="macs",
        rules={},
        default_rule=multiply_accumulates,
        backward=own_backward,
    )
)
