"""BatchNorm with the stored statistics (Caffe's TEST phase, ``use_global_stats`` unset or
true): blobs mean ``(C,)``, variance ``(C,)`` and the moving-average factor ``s`` ``(1,)``; both
statistics are multiplied by ``1 / s`` (0 when ``s`` is 0), then ``y = (x - mean) / sqrt(var +
eps)`` per channel (axis 1), ``eps`` default 1e-5. The per-channel constants are computed in
float32 as Caffe's forward does (scale, add eps, square root)."""
import numpy as np

from ._common import F32, Unsupported, blob_count, param_blob, register


@register("BatchNorm")
def batch_norm(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.batch_norm_param
    if p.HasField("use_global_stats") and not p.use_global_stats:
        raise Unsupported(f"layer '{lp.name}': batch statistics (use_global_stats: false)")
    if len(x.shape) < 2:
        raise Unsupported(f"layer '{lp.name}': input {x.shape}")
    c = x.shape[1]
    blob_count(lp, blobs, 3)
    mean, var = param_blob(lp, blobs, 0, (c,)), param_blob(lp, blobs, 1, (c,))
    stored = param_blob(lp, blobs, 2, (1,))[0]
    factor = F32(0) if stored == 0 else F32(1) / stored
    mean = (mean * factor).astype(F32)
    std = np.sqrt((var * factor).astype(F32) + F32(p.eps)).astype(F32)
    shape = (c,) + (1,) * (len(x.shape) - 2)
    y = g.op("Sub", [x, g.const(mean.reshape(shape))])
    y = g.op("Div", [y, g.const(std.reshape(shape))])
    return [type(x)(y, x.shape)]
