"""MVN and Normalize (BatchNorm, LRN and Softmax: :mod:`.shared`).

- MVN: per (item, channel), or per item ``across_channels``: ``x - mean``, divided by
  ``sqrt(mean squared deviation) + eps`` with ``normalize_variance``.
- Normalize (SSD): ``x / sqrt(sum x^2 + eps)`` over each item (``across_spatial``) or over the
  channels at each position, times the shared or per-channel scale.
"""
import numpy as np

from ...rules import mvn as mvn_rules
from ...rules.fields import declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "MVN", "MVNParameter", mvn_rules.FIELDS)
declare("onnx", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "channel_shared", "eps"}, no_effect=fillers("NormalizeBBoxParameter"))


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


@register_converter("Normalize", "NormalizeBBox")
def normalize(ctx):
    m = ctx.module
    x = ctx.bottoms[0]
    rank = len(ctx.bottom_shapes[0])
    sq = ctx.op("Mul", [x, x])
    axes = list(range(1, rank)) if m.across_spatial else [1]
    total = ctx.op("ReduceSum", [sq, ctx.ints(axes, "axes")], keepdims=1)
    norm = ctx.op("Sqrt", [ctx.op("Add", [total, ctx.scalar(m.eps, hint="eps")])])
    y = ctx.op("Div", [x, norm])
    scale = m.scale.detach().cpu().numpy().astype(np.float32)
    if not m.channel_shared:
        scale = scale.reshape((-1,) + (1,) * (rank - 2))
    return ctx.op("Mul", [y, ctx.const(scale, "scale")])
