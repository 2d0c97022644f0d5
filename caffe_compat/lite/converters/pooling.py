"""Pooling (MAX, AVE, global) with Caffe's PoolingLayer geometry, written as ONNX pooling over
explicitly padded windows so that no runtime's own ceil-mode rule is relied on.

Caffe's rules: output ``ceil((in + 2 pad - k) / stride) + 1`` (``floor`` with ``round_mode:
FLOOR`` or OpenCV's ``ceil_mode: false``), minus one when ``pad > 0`` and the last window would
start at or beyond ``in + pad``. MAX takes the maximum over the window clipped to the input
(padding never wins; an empty window gives ``-FLT_MAX``, Caffe's initial value). AVE divides the
sum of the window (padded zeros included) by the size of the window clipped to
``[-pad, in + pad)``: zeros beyond the padded border do not count. Here the input is padded at
the end so that every window is a full ``k x k`` block, the sum is ONNX's AveragePool (count
including the pad) times ``k x k``, and the divisor is a constant map of Caffe's window sizes.
``global_pooling``: the whole plane. STOCHASTIC is the torch path's.
"""
import numpy as np

from ..pooling_geometry import pooled_size
from ._common import F32, Unsupported, four_d, register, spatial

MAX, AVE = 0, 1
_FLT_MAX = float(np.finfo(np.float32).max)


def _ceil(p):
    if p.HasField("ceil_mode"):
        if p.HasField("round_mode") and (p.round_mode == 0) != p.ceil_mode:
            raise Unsupported("ceil_mode contradicts round_mode")
        return p.ceil_mode
    return p.round_mode == 0


@register("Pooling")
def pooling(g, lp, bottoms, blobs):
    p = lp.pooling_param
    if p.pool not in (MAX, AVE) or len(lp.top) != 1:
        raise Unsupported(f"layer '{lp.name}': pool {p.pool} with {len(lp.top)} top(s)")
    x, = bottoms
    n, c, h, w = four_d(lp, x)
    if p.global_pooling:
        op = "GlobalMaxPool" if p.pool == MAX else "GlobalAveragePool"
        return [type(x)(g.op(op, [x]), (n, c, 1, 1))]
    k = spatial(p, lp, "kernel")
    s = spatial(p, lp, "stride", default=1)
    pad = spatial(p, lp, "pad", default=0)
    if min(s) < 1 or min(k) < 1 or pad[0] >= k[0] or pad[1] >= k[1]:
        raise Unsupported(f"layer '{lp.name}': kernel {k}, stride {s}, pad {pad}")
    ceil = _ceil(p)
    oh = pooled_size(h, k[0], s[0], pad[0], ceil)
    ow = pooled_size(w, k[1], s[1], pad[1], ceil)
    if oh < 1 or ow < 1:
        raise Unsupported(f"layer '{lp.name}': empty output for input {x.shape}")
    end_h = (oh - 1) * s[0] + k[0] - h - pad[0]
    end_w = (ow - 1) * s[1] + k[1] - w - pad[1]
    starts_h = np.arange(oh) * s[0] - pad[0]
    starts_w = np.arange(ow) * s[1] - pad[1]
    if p.pool == MAX:
        name = g.name(x)
        if end_h < 0 or end_w < 0:          # floor mode drops the last rows / columns
            name = g.op("Slice", [name, g.const(np.array([0, 0], np.int64)),
                                  g.const(np.array([h + min(end_h, 0), w + min(end_w, 0)],
                                                   np.int64)),
                                  g.const(np.array([2, 3], np.int64))])
        pads = [pad[0], pad[1], max(end_h, 0), max(end_w, 0)]
        y = g.op("MaxPool", [name], {"kernel_shape": list(k), "strides": list(s), "pads": pads})
        empty = (np.minimum(starts_h + k[0], h) <= np.maximum(starts_h, 0)).any() or \
            (np.minimum(starts_w + k[1], w) <= np.maximum(starts_w, 0)).any()
        if empty:
            y = g.op("Max", [y, g.const(np.array(-_FLT_MAX, F32))])
        return [type(x)(y, (n, c, oh, ow))]
    # AVE: zero padding to full windows, window sums, Caffe's divisors
    pads = [0, 0, pad[0], pad[1], 0, 0, max(end_h, 0), max(end_w, 0)]
    name = g.name(x)
    if end_h < 0 or end_w < 0:
        name = g.op("Slice", [name, g.const(np.array([0, 0], np.int64)),
                              g.const(np.array([h + min(end_h, 0), w + min(end_w, 0)],
                                               np.int64)),
                              g.const(np.array([2, 3], np.int64))])
    if any(pads):
        name = g.op("Pad", [name, g.const(np.array(pads, np.int64))])
    y = g.op("AveragePool", [name], {"kernel_shape": list(k), "strides": list(s)})
    size_h = np.minimum(starts_h + k[0], h + pad[0]) - starts_h
    size_w = np.minimum(starts_w + k[1], w + pad[1]) - starts_w
    divisor = (size_h[:, None] * size_w[None, :]).astype(F32)
    full = F32(k[0] * k[1])
    if (divisor != full).any():
        y = g.op("Mul", [y, g.const((full / divisor).astype(F32)[None, None])])
    return [type(x)(y, (n, c, oh, ow))]
