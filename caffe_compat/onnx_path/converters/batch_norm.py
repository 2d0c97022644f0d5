"""BatchNorm with the stored statistics (the parameters and refusals from
:mod:`caffe_compat.rules.batch_norm`: global statistics in TEST unless ``use_global_stats``
says otherwise): blobs mean ``(C,)``, variance ``(C,)`` and the moving-average factor ``s``
``(1,)``; both statistics are multiplied by ``1 / s`` (0 when ``s`` is 0), then ``y = (x -
mean) / sqrt(var + eps)`` per channel (axis 1). The per-channel constants are computed in
float32 as Caffe's forward does (scale, add eps, square root). OpenCV's ``scale_bias``: the
result times blob 3 plus blob 4, per channel. Batch statistics are the torch path's."""
import numpy as np

from ...rules.batch_norm import EXTENSIONS, FIELDS, batch_norm_rule
from ._common import F32, Unsupported, blob_count, declare, elementwise, param_blob

declare("lite", "BatchNorm", "BatchNormParameter", (FIELDS - {"use_global_stats"}) | EXTENSIONS,
        refuses={"use_global_stats"})


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
