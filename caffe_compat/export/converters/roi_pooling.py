"""ROIPooling and PSROIPooling in ONNX operators, with OpenCV 4 dnn's rules (our layers').

ROIPooling is ONNX's ``MaxRoiPool`` (corners scaled and rounded half away from zero, spans of
``end - start + 1`` cells, bins ``[floor(i r), ceil((i + 1) r))`` from the start, clipped,
empty bins 0: the same bins as OpenCV's). onnxruntime starts each bin's maximum at
``FLT_MIN`` (the smallest positive float, not ``-FLT_MAX``), so a bin of non-positive values
would give 1.2e-38: those bins are taken from a second pool of ``x + s`` (``s = 1 - min x``,
every value then at least 1, an empty bin still 0) minus ``s``, exact for bins whose maximum
is 0 (features after a ReLU) and within float32 rounding of ``s`` otherwise.

PSROIPooling has no ONNX operator; it is written with an integral image: double-precision
cumulative sums of the score maps, the four corners of each bin gathered (``GatherND``, on
the float32 halves ``hi + lo`` of the doubles), the
window sum divided by its area. The bins follow our layer: ROI corners rounded half away from
zero (``x2 + 1``, ``y2 + 1`` for the end) times ``spatial_scale``, spans at least 0.1, bin
``i`` over ``[floor(start + i r), ceil(start + (i + 1) r))`` clipped to the map, channel
``(c k + i) k + j``, empty bins 0.
"""
import numpy as np

from ...rules.fields import declare
from ..registry import register_converter

declare("onnx", "ROIPooling", "ROIPoolingParameter", {"pooled_h", "pooled_w", "spatial_scale"})
declare("onnx", "PSROIPooling", "PSROIPoolingParameter",
        {"spatial_scale", "output_dim", "group_size"})

F32 = np.float32
FLT_MIN = float(np.finfo(F32).tiny)


@register_converter("ROIPooling")
def roi_pooling(ctx):
    m = ctx.module
    x, rois = ctx.bottoms
    attrs = dict(pooled_shape=list(m.pooled), spatial_scale=float(m.scale))
    direct = ctx.op("MaxRoiPool", [x, rois], **attrs)
    shift = ctx.op("Sub", [ctx.scalar(1.0, hint="one"), ctx.op("ReduceMin", [x], keepdims=0)])
    shifted = ctx.op("MaxRoiPool", [ctx.op("Add", [x, shift]), rois], **attrs)
    empty = ctx.op("Equal", [shifted, ctx.scalar(0.0, hint="zero")])
    low = ctx.op("Sub", [shifted, shift])
    y = ctx.op("Where", [ctx.op("Greater", [direct, ctx.scalar(FLT_MIN, hint="flt_min")]),
                         direct, low])
    return ctx.op("Where", [empty, ctx.scalar(0.0, hint="zero"), y])


def _round_half_away(ctx, v):
    """OpenCV's ``(int)(v + (v >= 0 ? 0.5f : -0.5f))`` on float32 values, as float32."""
    half = ctx.op("Where", [ctx.op("GreaterOrEqual", [v, ctx.scalar(0.0, hint="zero")]),
                            ctx.scalar(0.5, hint="half"), ctx.scalar(-0.5, hint="neg_half")])
    return ctx.op("Cast", [ctx.op("Cast", [ctx.op("Add", [v, half])], to=6)], to=1)


def _bins(ctx, start, end, k, size, axis_name):
    """(lo, hi) int64 ``(R, k)`` bin limits along one axis for ROI corners ``(R, 1)``."""
    span = ctx.op("Max", [ctx.op("Sub", [end, start]), ctx.scalar(0.1, hint="min_span")])
    ratio = ctx.op("Div", [span, ctx.scalar(float(k), hint="k")])
    steps = np.arange(k + 1, dtype=F32)
    at = ctx.op("Add", [start, ctx.op("Mul", [ratio, ctx.const(steps[None], "steps")])])
    lo = ctx.op("Floor", [ctx.op("Slice", [at, ctx.ints([0], "s0"), ctx.ints([k], "sk"),
                                           ctx.ints([1], "ax1")])])
    hi = ctx.op("Ceil", [ctx.op("Slice", [at, ctx.ints([1], "s1"), ctx.ints([k + 1], "sk1"),
                                          ctx.ints([1], "ax1")])])
    lo = ctx.op("Max", [lo, ctx.scalar(0.0, hint="zero")])
    hi = ctx.op("Min", [hi, ctx.scalar(float(size), hint=f"size_{axis_name}")])
    return ctx.op("Cast", [lo], to=7), ctx.op("Cast", [hi], to=7)


@register_converter("PSROIPooling")
def psroi_pooling(ctx):
    m = ctx.module
    x, rois = ctx.bottoms
    _, _, h, w = ctx.bottom_shapes[0]
    k, dim = m.k, m.dim
    scale = ctx.scalar(float(m.scale), hint="spatial_scale")
    cols = ctx.op("Split", [rois, ctx.ints([1, 1, 1, 1, 1], "split5")],
                  outputs=["batch", "x1", "y1", "x2", "y2"], axis=1)     # each (R, 1)
    batch, x1, y1, x2, y2 = cols
    one = ctx.scalar(1.0, hint="one")
    starts = [ctx.op("Mul", [_round_half_away(ctx, v), scale]) for v in (x1, y1)]
    ends = [ctx.op("Mul", [_round_half_away(ctx, ctx.op("Add", [v, one])), scale])
            for v in (x2, y2)]
    xlo, xhi = _bins(ctx, starts[0], ends[0], k, w, "w")
    ylo, yhi = _bins(ctx, starts[1], ends[1], k, h, "h")
    # integral image in double: I[n, c, y, x] = sum of x[n, c, :y, :x]
    xd = ctx.op("Cast", [x], to=11)
    xd = ctx.op("Pad", [xd, ctx.ints([0, 0, 1, 1, 0, 0, 0, 0], "pad_integral")])
    integral = ctx.op("CumSum", [ctx.op("CumSum", [xd, ctx.const(np.int64(2), "axis2")]),
                                 ctx.const(np.int64(3), "axis3")])
    full = ctx.op("Concat", [ctx.shape_of(rois, 0, 1), ctx.ints([dim, k, k, 1], "cell")],
                  axis=0)

    def spread(v, view):
        return ctx.op("Expand", [ctx.op("Reshape", [v, ctx.ints(view)]), full])

    b = spread(ctx.op("Cast", [batch], to=7), [-1, 1, 1, 1, 1])
    channel = (np.arange(dim)[:, None, None] * k + np.arange(k)[None, :, None]) * k \
        + np.arange(k)[None, None, :]
    ch = ctx.op("Expand", [ctx.const(channel.reshape(1, dim, k, k, 1).astype(np.int64),
                                     "channels"), full])

    # gathered as two float32 halves (hi + lo: the double to ~2^-48 of its size), since some
    # runtimes (OpenCV 5) gather no float64
    hi = ctx.op("Cast", [integral], to=1)
    lo = ctx.op("Cast", [ctx.op("Sub", [integral, ctx.op("Cast", [hi], to=11)])], to=1)

    def corner(ys, xs):
        index = ctx.op("Concat", [b, ch, spread(ys, [-1, 1, k, 1, 1]),
                                  spread(xs, [-1, 1, 1, k, 1])], axis=-1)
        return ctx.op("Add", [ctx.op("Cast", [ctx.op("GatherND", [half, index])], to=11)
                              for half in (hi, lo)])                     # (R, dim, k, k)

    total = ctx.op("Add", [ctx.op("Sub", [ctx.op("Sub", [corner(yhi, xhi), corner(ylo, xhi)]),
                                          corner(yhi, xlo)]), corner(ylo, xlo)])
    height = ctx.op("Reshape", [ctx.op("Sub", [yhi, ylo]), ctx.ints([-1, 1, k, 1], "hview")])
    width = ctx.op("Reshape", [ctx.op("Sub", [xhi, xlo]), ctx.ints([-1, 1, 1, k], "wview")])
    empty = ctx.op("Or", [ctx.op("LessOrEqual", [height, ctx.const(np.int64(0), "zero_i")]),
                          ctx.op("LessOrEqual", [width, ctx.const(np.int64(0), "zero_i")])])
    area = ctx.op("Cast", [ctx.op("Mul", [height, width])], to=11)
    mean = ctx.op("Cast", [ctx.op("Div", [total, ctx.op("Max", [area, ctx.const(
        np.float64(1.0), "one_d", dtype=np.float64)])])], to=1)
    return ctx.op("Where", [empty, ctx.scalar(0.0, hint="zero"), mean])
