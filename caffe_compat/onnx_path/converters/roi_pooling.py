"""ROIPooling and PSROIPooling in ONNX operators, with OpenCV 4 dnn's rules (our layers';
parameters and shapes from :mod:`caffe_compat.rules.roi_pooling`), for an export's graph only
(ROIPooling's value at a bin of non-positive values is within a rounding, not exact, and not
every runtime of the torch-free path reads these operators).

ROIPooling is ONNX's ``MaxRoiPool`` (the bins of OpenCV's: corners scaled and rounded half away
from zero, spans ``end - start + 1``, bins ``[floor(i r), ceil((i + 1) r))`` clipped, empty bins
0). onnxruntime starts a bin's maximum at ``FLT_MIN``, not ``-FLT_MAX``: bins of non-positive
values are taken from a second pool of ``x + s`` (``s = 1 - min x``) minus ``s``, exact where the
maximum is 0 (after a ReLU), else within float32 rounding of ``s``.

PSROIPooling (no ONNX operator) uses an integral image: double cumulative sums of the score
maps, each bin's four corners gathered (``GatherND`` on the float32 halves ``hi + lo``), the
window sum divided by its area. Bins as our layer's: corners rounded half away from zero
(``x2 + 1``, ``y2 + 1`` for the end) times ``spatial_scale``, spans at least 0.1, bin ``i`` over
``[floor(start + i r), ceil(start + (i + 1) r))`` clipped, channel ``(c k + i) k + j``, empty 0.
"""
import numpy as np

from ...rules.roi_pooling import PSROI_FIELDS, ROI_FIELDS, psroi_pooling_rule, roi_pooling_rule
from ._common import DOUBLE, F32, FLOAT, INT32, INT64, declare, export_only, register

declare("lite", "ROIPooling", "ROIPoolingParameter", ROI_FIELDS)
declare("lite", "PSROIPooling", "PSROIPoolingParameter", PSROI_FIELDS)

FLT_MIN = float(np.finfo(F32).tiny)


@register("ROIPooling")
def roi_pooling(g, lp, bottoms, blobs):
    export_only(g, lp)
    x, rois = bottoms
    rule = roi_pooling_rule(lp, [x.shape, rois.shape])
    attrs = {"pooled_shape": list(rule.pooled), "spatial_scale": float(rule.scale)}
    direct = g.op("MaxRoiPool", [x, rois], attrs)
    shift = g.op("Sub", [g.const(1.0), g.op("ReduceMin", [x], {"keepdims": 0})])
    shifted = g.op("MaxRoiPool", [g.op("Add", [x, shift]), rois], attrs)
    zero = g.const(0.0)
    low = g.op("Sub", [shifted, shift])
    y = g.op("Where", [g.op("Greater", [direct, g.const(FLT_MIN)]), direct, low])
    y = g.op("Where", [g.op("Equal", [shifted, zero]), zero, y])
    return [type(x)(y, rule.top_shape([x.shape, rois.shape]))]


def _round_half_away(g, v):
    """OpenCV's ``(int)(v + (v >= 0 ? 0.5f : -0.5f))`` on float32 values, as float32."""
    half = g.op("Where", [g.op("GreaterOrEqual", [v, g.const(0.0)]), g.const(0.5),
                          g.const(-0.5)])
    return g.op("Cast", [g.op("Cast", [g.op("Add", [v, half])], {"to": INT32})], {"to": FLOAT})


def _bins(g, start, end, k, size):
    """(lo, hi) int64 ``(R, k)`` bin limits along one axis for ROI corners ``(R, 1)``."""
    span = g.op("Max", [g.op("Sub", [end, start]), g.const(0.1)])
    ratio = g.op("Div", [span, g.const(float(k))])
    at = g.op("Add", [start, g.op("Mul", [ratio, g.const(np.arange(k + 1, dtype=F32)[None])])])
    axis = g.const([1])
    lo = g.op("Floor", [g.op("Slice", [at, g.const([0]), g.const([k]), axis])])
    hi = g.op("Ceil", [g.op("Slice", [at, g.const([1]), g.const([k + 1]), axis])])
    lo = g.op("Max", [lo, g.const(0.0)])
    hi = g.op("Min", [hi, g.const(float(size))])
    return g.op("Cast", [lo], {"to": INT64}), g.op("Cast", [hi], {"to": INT64})


@register("PSROIPooling")
def psroi_pooling(g, lp, bottoms, blobs):
    export_only(g, lp)
    x, rois = bottoms
    rule = psroi_pooling_rule(lp, [x.shape, rois.shape])
    _, _, h, w = x.shape
    k, dim = rule.k, rule.dim
    scale = g.const(rule.scale)
    batch, x1, y1, x2, y2 = g.op("Split", [rois, g.const([1] * 5)], {"axis": 1},
                                 outputs=5)                               # each (R, 1)
    one = g.const(1.0)
    starts = [g.op("Mul", [_round_half_away(g, v), scale]) for v in (x1, y1)]
    ends = [g.op("Mul", [_round_half_away(g, g.op("Add", [v, one])), scale]) for v in (x2, y2)]
    xlo, xhi = _bins(g, starts[0], ends[0], k, w)
    ylo, yhi = _bins(g, starts[1], ends[1], k, h)
    # integral image in double: I[n, c, y, x] = sum of x[n, c, :y, :x]
    xd = g.op("Pad", [g.op("Cast", [x], {"to": DOUBLE}), g.const([0, 0, 1, 1, 0, 0, 0, 0])])
    integral = g.op("CumSum", [g.op("CumSum", [xd, g.const(2)]), g.const(3)])
    count = g.op("Slice", [g.op("Shape", [rois]), g.const([0]), g.const([1])])
    full = g.op("Concat", [count, g.const([dim, k, k, 1])], {"axis": 0})

    def spread(v, view):
        return g.op("Expand", [g.op("Reshape", [v, g.const(view)]), full])

    b = spread(g.op("Cast", [batch], {"to": INT64}), [-1, 1, 1, 1, 1])
    channel = (np.arange(dim)[:, None, None] * k + np.arange(k)[None, :, None]) * k \
        + np.arange(k)[None, None, :]
    ch = g.op("Expand", [g.const(channel.reshape(1, dim, k, k, 1).astype(np.int64)), full])
    # gathered as two float32 halves (hi + lo: the double to ~2^-48 of its size), since some
    # runtimes (OpenCV 5) gather no float64
    high = g.op("Cast", [integral], {"to": FLOAT})
    low = g.op("Cast", [g.op("Sub", [integral, g.op("Cast", [high], {"to": DOUBLE})])],
               {"to": FLOAT})

    def corner(ys, xs):
        index = g.op("Concat", [b, ch, spread(ys, [-1, 1, k, 1, 1]),
                                spread(xs, [-1, 1, 1, k, 1])], {"axis": -1})
        return g.op("Add", [g.op("Cast", [g.op("GatherND", [half, index])], {"to": DOUBLE})
                            for half in (high, low)])                     # (R, dim, k, k)

    total = g.op("Add", [g.op("Sub", [g.op("Sub", [corner(yhi, xhi), corner(ylo, xhi)]),
                                      corner(yhi, xlo)]), corner(ylo, xlo)])
    height = g.op("Reshape", [g.op("Sub", [yhi, ylo]), g.const([-1, 1, k, 1])])
    width = g.op("Reshape", [g.op("Sub", [xhi, xlo]), g.const([-1, 1, 1, k])])
    zero_i = g.const(0)
    empty = g.op("Or", [g.op("LessOrEqual", [height, zero_i]),
                        g.op("LessOrEqual", [width, zero_i])])
    # the area of a bin that is not empty (at least 1 where it is: no division by 0)
    area = g.op("Cast", [g.op("Max", [g.op("Mul", [height, width]),
                                      g.const(1)])], {"to": DOUBLE})
    mean = g.op("Cast", [g.op("Div", [total, area])], {"to": FLOAT})
    y = g.op("Where", [empty, g.const(0.0), mean])
    return [type(x)(y, rule.top_shape([x.shape, rois.shape]))]
