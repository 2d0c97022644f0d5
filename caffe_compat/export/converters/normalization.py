"""BatchNorm, LRN, MVN, Normalize and Softmax.

- BatchNorm (global statistics): ``BatchNormalization`` with the statistics divided by the
  scale-factor blob (0 when it is 0), Caffe's ``eps``, and OpenCV's fork's ``scale_bias`` blobs
  as scale and bias (ones and zeros otherwise).
- LRN ACROSS_CHANNELS: ONNX's ``LRN`` is Caffe's formula (``x / (k + alpha / n * sum x^2)^beta``
  over n channels centred on c, zero-padded). WITHIN_CHANNEL: ``x * (1 + alpha * avg(x^2))^-beta``
  with the n x n average zero-padded by ``(n - 1) / 2`` and divided by n^2 everywhere.
- MVN: per (item, channel), or per item ``across_channels``: ``x - mean``, divided by
  ``sqrt(mean squared deviation) + eps`` with ``normalize_variance``.
- Normalize (SSD): ``x / sqrt(sum x^2 + eps)`` over each item (``across_spatial``) or over the
  channels at each position, times the shared or per-channel scale.
- Softmax: ONNX's ``Softmax`` over the one axis (opset 13 and later).
"""
import numpy as np

from ...proto import caffe_pb2
from ..registry import register_converter

LRN = caffe_pb2.LRNParameter


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


@register_converter("LRN")
def lrn(ctx):
    m = ctx.module
    x = ctx.bottoms[0]
    if m.region == LRN.ACROSS_CHANNELS:
        return ctx.op("LRN", [x], size=int(m.size), alpha=float(m.alpha), beta=float(m.beta),
                      bias=float(m.k))
    sq = ctx.op("Mul", [x, x])
    p = int(m.pre_pad)
    avg = ctx.op("AveragePool", [sq], kernel_shape=[m.size, m.size], strides=[1, 1],
                 pads=[p, p, p, p], count_include_pad=1)
    scale = ctx.op("Add", [ctx.op("Mul", [avg, ctx.scalar(m.alpha, hint="alpha")]),
                           ctx.scalar(1.0, hint="one")])
    return ctx.op("Mul", [x, ctx.op("Pow", [scale, ctx.scalar(-m.beta, hint="neg_beta")])])


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


@register_converter("Softmax")
def softmax(ctx):
    return ctx.op("Softmax", [ctx.bottoms[0]], axis=int(ctx.module.axis))
