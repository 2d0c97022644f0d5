"""MVN (BatchNorm, LRN, Softmax and Normalize: :mod:`.shared`).

- MVN: per (item, channel), or per item ``across_channels``: ``x - mean``, divided by
  ``sqrt(mean squared deviation) + eps`` with ``normalize_variance``.
"""
from ...rules import mvn as mvn_rules
from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "MVN", "MVNParameter", mvn_rules.FIELDS)


@register_converter("MVN")
def mvn(ctx):
    m = ctx.module
    x = ctx.bottoms[0]
    shape = ctx.bottom_shapes[0]
    rows = [0] if (m.across_channels or len(shape) < 2) else [0, 0]
    flat = ctx.op("Reshape", [x, ctx.ints(rows + [-1])])
    mean = ctx.op("ReduceMean", [flat], axes=[-1], keepdims=1)
    centered = ctx.op("Sub", [flat, mean])
    y = centered
    if m.normalize_variance:
        var = ctx.op("ReduceMean", [ctx.op("Mul", [centered, centered])], axes=[-1], keepdims=1)
        denom = ctx.op("Add", [ctx.op("Sqrt", [var]), ctx.scalar(m.eps, hint="eps")])
        y = ctx.op("Div", [centered, denom])
    return ctx.op("Reshape", [y, ctx.op("Shape", [x])])
