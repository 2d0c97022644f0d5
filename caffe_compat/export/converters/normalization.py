"""BatchNorm, MVN and Normalize (LRN and Softmax: :mod:`.shared`).

- BatchNorm (global statistics): ``BatchNormalization`` with the statistics divided by the
  scale-factor blob (0 when it is 0), Caffe's ``eps``, and OpenCV's fork's ``scale_bias`` blobs
  as scale and bias (ones and zeros otherwise).
- MVN: per (item, channel), or per item ``across_channels``: ``x - mean``, divided by
  ``sqrt(mean squared deviation) + eps`` with ``normalize_variance``.
- Normalize (SSD): ``x / sqrt(sum x^2 + eps)`` over each item (``across_spatial``) or over the
  channels at each position, times the shared or per-channel scale.
"""
import numpy as np

from ...rules import batch_norm as bn_rules
from ...rules import mvn as mvn_rules
from ...rules.fields import declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "BatchNorm", "BatchNormParameter", bn_rules.FIELDS - {"use_global_stats"}
        | bn_rules.EXTENSIONS, refuses={"use_global_stats"})
declare("onnx", "MVN", "MVNParameter", mvn_rules.FIELDS)
declare("onnx", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "channel_shared", "eps"}, no_effect=fillers("NormalizeBBoxParameter"))


@register_converter("BatchNorm")
def batch_norm(ctx):
    m = ctx.module
    if not m.use_global_stats:
        ctx.fail("BatchNorm without use_global_stats normalizes by the batch's own "
                 "statistics (training); export a TEST-phase net")
    s = float(m.scale_factor.detach().cpu().numpy()[0])
    factor = 0.0 if s == 0 else np.float32(1.0) / np.float32(s)
    mean = m.mean.detach().cpu().numpy().astype(np.float32) * np.float32(factor)
    var = m.variance.detach().cpu().numpy().astype(np.float32) * np.float32(factor)
    c = m.channels
    scale = m.scale.detach().cpu().numpy() if m.scale_bias else np.ones(c, np.float32)
    bias = m.bias.detach().cpu().numpy() if m.scale_bias else np.zeros(c, np.float32)
    return ctx.op("BatchNormalization",
                  [ctx.bottoms[0], ctx.blob(scale, "scale"), ctx.blob(bias, "bias"),
                   ctx.blob(mean, "mean"), ctx.blob(var, "variance")], epsilon=float(m.eps))


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
