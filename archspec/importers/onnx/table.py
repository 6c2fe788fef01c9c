"""The operator table: each ONNX operator (default domain) and what the spec writes for it.

Operators not listed here are folded when all their inputs are constants (fold.FOLD), and
otherwise have no mapping: a located error, or with unknown_ops="zero" a zero-cost stand-in
(archspec.importers.onnx.convert.stand_in).
"""

from __future__ import annotations

from archspec.importers.onnx import ops, reshaping

OPS = {
    # convolutions and matrix products: the weights (initializers) are the layer's params
    "Conv": ops.conv,  # Conv1d/2d/3d (asymmetric pads: a Pad first)
    "ConvTranspose": ops.conv_transpose,  # ConvTranspose1d/2d/3d
    "MatMul": ops.matmul,  # x @ W, W an initializer: Linear(bias=false); two activations: Matmul
    "Gemm": ops.gemm,  # Linear (C one bias per output); else Matmul (+ Add)
    "Einsum": ops.einsum,  # Einsum
    # normalization
    "BatchNormalization": ops.batch_norm,  # BatchNorm1d/2d/3d: scale and B params, running stats buffers
    "LayerNormalization": ops.layer_norm,  # LayerNorm
    "GroupNormalization": ops.group_norm,  # GroupNorm
    "InstanceNormalization": ops.instance_norm,  # InstanceNorm1d/2d/3d (affine)
    # pooling
    "MaxPool": ops.pool("MaxPool"),  # MaxPool1d/2d/3d
    "AveragePool": ops.pool("AvgPool"),  # AvgPool1d/2d/3d
    "GlobalAveragePool": ops.global_pool("AdaptiveAvgPool"),  # AdaptiveAvgPool2d(1)
    "GlobalMaxPool": ops.global_pool("AdaptiveMaxPool"),  # AdaptiveMaxPool2d(1)
    # activations and elementwise functions
    "Relu": ops.unary("ReLU"),
    "LeakyRelu": ops.leaky_relu,  # LeakyReLU
    "Sigmoid": ops.unary("Sigmoid"),
    "Tanh": ops.unary("Tanh"),
    "Softmax": ops.softmax,  # Softmax (before opset 13: over the last dim only)
    "Erf": ops.unary("Erf"),
    "Gelu": ops.gelu,  # GELU (opset 20)
    "HardSigmoid": ops.hard_sigmoid,  # Hardsigmoid
    "HardSwish": ops.unary("Hardswish"),
    "Clip": ops.clip,  # ReLU6 (0, 6), ReLU (0, none), else Clamp
    "Softplus": ops.unary("Softplus"),
    "Exp": ops.unary("Exp"),
    "Log": ops.unary("Log"),
    "Sqrt": ops.unary("Sqrt"),
    "Abs": ops.unary("Abs"),
    "Neg": ops.unary("Neg"),
    "Sin": ops.unary("Sin"),
    "Cos": ops.unary("Cos"),
    "Reciprocal": ops.unary("Pow", exponent=-1),  # Pow -1
    "Pow": ops.power,  # Pow (a number exponent)
    "Where": ops.where,  # Where
    "CumSum": ops.cumsum,  # Cumsum
    "TopK": ops.topk,  # TopK
    "Dropout": ops.dropout,  # Dropout (the identity at inference)
    # arithmetic: with a one-valued constant, `other`
    "Add": ops.arithmetic("Add"),  # Add
    "Sub": ops.arithmetic("Sub"),  # Add (same cost; the spec has no subtraction)
    "Mul": ops.arithmetic("Mul"),  # Mul
    "Div": ops.arithmetic("Div"),  # Mul (x / c: Mul by 1/c; a / b: same cost)
    "Sum": ops.variadic_sum,  # Add of n inputs
    # values: folded, no layer
    "Constant": reshaping.constant,
    "Shape": reshaping.shape_op,
    "Size": reshaping.size_op,
    "Identity": reshaping.identity,  # the same tensor
    "Cast": reshaping.cast,  # the same tensor (costs nothing here)
    # views and data movement (no cost)
    "Reshape": reshaping.reshape,  # Reshape (left out when it keeps the shape)
    "Flatten": reshaping.flatten,  # Flatten (axis 1), else Reshape
    "Transpose": reshaping.transpose,  # Transpose (two dims swapped) or Permute
    "Squeeze": reshaping.squeeze,  # Reshape
    "Unsqueeze": reshaping.unsqueeze,  # Reshape
    "Expand": reshaping.expand,  # Expand
    "Tile": reshaping.tile,  # Repeat
    "Concat": reshaping.concat,  # Concat
    "Split": reshaping.split,  # Split (outputs name.0, name.1, ...)
    "Slice": reshaping.slice_op,  # Slice, one per sliced dim
    "Gather": reshaping.gather,  # Embedding (a stored table), Index, Slice, IndexSelect, Take
    "GatherElements": reshaping.gather_elements,  # Gather
    "Pad": reshaping.pad,  # Pad
    "Resize": reshaping.resize,  # Upsample (nearest, (bi/tri)linear)
    "Upsample": reshaping.resize,  # Upsample
    "ReduceMean": reshaping.reduce_mean,  # Mean
    "ReduceSum": reshaping.reduce_sum,  # Einsum of one operand (+ Reshape with keepdims)
}

# ops that on a stored tensor (an initializer) give another view of it, no layer
WEIGHT_VIEWS = {"Identity", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}


def converter(op: str):
    """The converter of an operator, or None."""
    return OPS.get(op)
