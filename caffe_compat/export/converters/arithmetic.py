"""Reduction (SUM / ASUM / SUMSQ / MEAN over the axes from ``axis`` on, times ``coeff``); Axpy,
Scale, Bias and Eltwise: :mod:`.shared`.
"""
import numpy as np

from ...proto import caffe_pb2
from ...rules import reduction as reduction_rules
from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "Reduction", "ReductionParameter", reduction_rules.FIELDS)

R = caffe_pb2.ReductionParameter


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
