"""The normalising layers as ONNX nodes (each rule in the module of its type under
:mod:`caffe_compat.rules`):

* BatchNorm with the stored statistics (global statistics in TEST unless ``use_global_stats``
  says otherwise): blobs mean ``(C,)``, variance ``(C,)`` and the moving-average factor ``s``
  ``(1,)``; both statistics are multiplied by ``1 / s`` (0 when ``s`` is 0), then ``y = (x -
  mean) / sqrt(var + eps)`` per channel (axis 1). The per-channel constants are computed in
  float32 as Caffe's forward does (scale, add eps, square root). OpenCV's ``scale_bias``: the
  result times blob 3 plus blob 4, per channel. Batch statistics are the torch path's.
* LRN: across channels ONNX's LRN, which is Caffe's formula for odd sizes; within a channel
  Caffe's WithinChannelForward as nodes: ``x * (1 + alpha * AveragePool(x^2))^-beta``, the n x
  n window zero-padded by (n - 1) / 2 and divided by n^2 everywhere (``count_include_pad``).
* MVN: the rows (num x channel, or num) of the bottom: the row mean subtracted (ReduceMean)
  and, with ``normalize_variance``, divided by ``sqrt(mean of the squares) + eps``. In an
  export's graph the rows keep the batch axis (``(N, C, L)`` or ``(N, L)``, its length copied
  with 0).
* Normalize: ReduceSumSquare, Sqrt of the sum plus ``eps``, Div, then Mul by the scale blob.
"""
import numpy as np

from ...rules.batch_norm import EXTENSIONS, FIELDS as BN_FIELDS, batch_norm_rule
from ...rules.lrn import ACROSS_CHANNELS, FIELDS as LRN_FIELDS, lrn_rule
from ...rules.mvn import FIELDS as MVN_FIELDS, mvn_rule
from ...rules.normalize import FIELDS as NORMALIZE_FIELDS, normalize_rule
from ._common import (ENGINE_FIELD, F32, Unsupported, blob_count, declare, elementwise,
                      param_blob, register)
from .shape import reshaped

declare("lite", "BatchNorm", "BatchNormParameter",
        (BN_FIELDS - {"use_global_stats"}) | EXTENSIONS, refuses={"use_global_stats"})
declare("lite", "LRN", "LRNParameter", LRN_FIELDS, no_effect=ENGINE_FIELD)
declare("lite", "MVN", "MVNParameter", MVN_FIELDS)
# the scale comes from the caffemodel only (a missing blob, which the filler would fill, goes
# to the torch path)
declare("lite", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        NORMALIZE_FIELDS - {"scale_filler"}, refuses={"scale_filler"})


@elementwise("BatchNorm")
def batch_norm(g, lp, x, blobs):
    rule = batch_norm_rule(lp, [x.shape], "TEST")
    if not rule.use_global_stats:
        raise Unsupported(f"layer '{lp.name}': batch statistics (use_global_stats: false)")
    c = rule.channels
    blob_count(lp, blobs, len(rule.param_shapes()))
    mean, var = param_blob(lp, blobs, 0, (c,)), param_blob(lp, blobs, 1, (c,))
    factor = rule.stats_factor(param_blob(lp, blobs, 2, (1,))[0])
    mean = (mean * factor).astype(F32)
    std = np.sqrt((var * factor).astype(F32) + F32(rule.eps)).astype(F32)
    shape = (c,) + (1,) * (len(x.shape) - 2)
    y = g.op("Sub", [x, g.const(mean.reshape(shape))])
    y = g.op("Div", [y, g.const(std.reshape(shape))])
    if rule.scale_bias:
        y = g.op("Mul", [y, g.const(param_blob(lp, blobs, 3, (c,)).reshape(shape))])
        y = g.op("Add", [y, g.const(param_blob(lp, blobs, 4, (c,)).reshape(shape))])
    return y


@elementwise("LRN")
def lrn(g, lp, x, blobs):
    rule = lrn_rule(lp, [x.shape])
    if rule.region != ACROSS_CHANNELS:
        n, pad = rule.size, rule.pre_pad
        mean = g.op("AveragePool", [g.op("Mul", [x, x])],
                    {"kernel_shape": [n, n], "strides": [1, 1], "pads": [pad] * 4,
                     "count_include_pad": 1})
        scale = g.op("Add", [g.op("Mul", [mean, g.const(np.array(rule.alpha, np.float32))]),
                             g.const(np.array(1.0, np.float32))])
        powed = g.op("Pow", [scale, g.const(np.array(-rule.beta, np.float32))])
        return g.op("Mul", [x, powed])
    return g.op("LRN", [x], {"size": rule.size, "alpha": rule.alpha, "beta": rule.beta,
                             "bias": rule.k})


@register("MVN")
def mvn(g, lp, bottoms, blobs):
    x, = bottoms
    rule = mvn_rule(lp, [x.shape])
    rows, per_row = rule.rows(x.shape)
    shape, free = (rows, per_row), [0, -1]
    if g.batch_free and rows != x.shape[0]:
        shape, free = (x.shape[0], rows // x.shape[0], per_row), [0, 0, -1]
    rows = reshaped(g, x, shape, free)
    axes = {"axes": [len(shape) - 1], "keepdims": 1}
    mean = g.op("ReduceMean", [rows], axes)
    name = g.op("Sub", [rows, mean])
    if rule.normalize_variance:
        var = g.op("ReduceMean", [g.op("Mul", [name, name])], axes)
        denom = g.op("Add", [g.op("Sqrt", [var]), g.const(np.array(rule.eps, F32))])
        name = g.op("Div", [name, denom])
    return [reshaped(g, type(x)(name, shape), x.shape, (0,) + x.shape[1:])]


@register("Normalize")
@elementwise("NormalizeBBox")
def normalize(g, lp, x, blobs):
    rule = normalize_rule(lp, [x.shape])
    rule.top_shape(x.shape)
    n = len(x.shape)
    axes = list(range(1, n)) if rule.across_spatial else [1]
    sq = g.op("ReduceSumSquare", [x], {"axes": axes, "keepdims": 1})
    norm = g.op("Sqrt", [g.op("Add", [sq, g.const(np.array(rule.eps, F32))])])
    y = g.op("Div", [x, norm])
    blob_count(lp, blobs, 1)
    s = param_blob(lp, blobs, 0, rule.scale_shape())
    s = s.reshape(()) if rule.channel_shared else s.reshape((x.shape[1],) + (1,) * (n - 2))
    return g.op("Mul", [y, g.const(s)])
