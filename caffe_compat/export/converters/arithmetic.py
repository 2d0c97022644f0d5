"""Scale, Bias, Axpy and Reduction (Eltwise: :mod:`.shared`).

Scale / Bias multiply / add an operand aligned with the bottom at ``axis`` (a learned blob, or
the second bottom): it is reshaped to ``operand shape + (1,) * trailing axes`` so that ONNX's
broadcasting (aligned from the last axis) places it as Caffe does. Axpy: ``a * X + Y``.
Reduction: SUM / ASUM / SUMSQ / MEAN over the axes from ``axis`` on, times ``coeff``.
"""
import numpy as np

from ...proto import caffe_pb2
from ...rules import bias as bias_rules
from ...rules import reduction as reduction_rules
from ...rules import scale as scale_rules
from ...rules.fields import declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "Scale", "ScaleParameter", scale_rules.FIELDS,
        no_effect=fillers("ScaleParameter"))
declare("onnx", "Bias", "BiasParameter", bias_rules.FIELDS, no_effect=fillers("BiasParameter"))
declare("onnx", "Reduction", "ReductionParameter", reduction_rules.FIELDS)

R = caffe_pb2.ReductionParameter


def _aligned(ctx, value, operand_shape, axis, learned):
    """``value`` (a learned blob or a bottom's ONNX value) shaped to broadcast from ``axis``."""
    rank = len(ctx.bottom_shapes[0])
    if len(operand_shape) == 0:
        return ctx.blob(value, "scalar") if learned else value
    trailing = rank - (axis if axis >= 0 else axis + rank) - len(operand_shape)
    if learned:
        arr = value.detach().cpu().numpy().astype(np.float32)
        return ctx.const(arr.reshape(tuple(operand_shape) + (1,) * trailing), "operand")
    if trailing == 0:
        return value
    # copy the operand's own axes (its batch too) and append the trailing ones
    return ctx.op("Reshape", [value, ctx.ints([0] * len(operand_shape) + [1] * trailing)])


@register_converter("Scale")
def scale(ctx):
    m = ctx.module
    axis = ctx.param.scale_param.axis
    x = ctx.bottoms[0]
    if len(ctx.bottoms) > 1:
        s = _aligned(ctx, ctx.bottoms[1], ctx.bottom_shapes[1], axis, learned=False)
    else:
        s = _aligned(ctx, m.scale, tuple(m.scale.shape), axis, learned=True)
    y = ctx.op("Mul", [x, s])
    if m.bias_term:
        y = ctx.op("Add", [y, _aligned(ctx, m.bias, tuple(m.bias.shape), axis, learned=True)])
    return y


@register_converter("Bias")
def bias(ctx):
    axis = ctx.param.bias_param.axis
    if len(ctx.bottoms) > 1:
        b = _aligned(ctx, ctx.bottoms[1], ctx.bottom_shapes[1], axis, learned=False)
    else:
        b = _aligned(ctx, ctx.module.bias, tuple(ctx.module.bias.shape), axis, learned=True)
    return ctx.op("Add", [ctx.bottoms[0], b])


@register_converter("Axpy")
def axpy(ctx):
    a, x, y = ctx.bottoms
    rank = len(ctx.bottom_shapes[1])
    a = ctx.op("Reshape", [a, ctx.ints([0, 0] + [1] * (rank - 2))])
    return ctx.op("Add", [ctx.op("Mul", [a, x]), y])


@register_converter("Reduction")
def reduction(ctx):
    m = ctx.module
    x = ctx.bottoms[0]
    shape = ctx.bottom_shapes[0]
    flat = ctx.op("Reshape", [x, ctx.ints([0] * m.axis + [-1])])
    if m.op == R.ASUM:
        flat = ctx.op("Abs", [flat])
    elif m.op == R.SUMSQ:
        flat = ctx.op("Mul", [flat, flat])
    total = ctx.op("ReduceSum", [flat, ctx.ints([-1], "axes")], keepdims=0)
    if m.op != R.MEAN:
        return total if m.coeff == 1.0 else ctx.op("Mul", [total, ctx.scalar(m.coeff,
                                                                             hint="coeff")])
    if m.axis > 0:
        coeff = m.coeff / int(np.prod(shape[m.axis:], dtype=np.int64))
        return ctx.op("Mul", [total, ctx.scalar(coeff, hint="coeff")])
    count = ctx.op("Cast", [ctx.op("Size", [x])], to=1)      # the batch is part of the count
    return ctx.op("Mul", [ctx.op("Div", [total, count]), ctx.scalar(m.coeff, hint="coeff")])
