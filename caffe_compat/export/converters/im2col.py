"""Im2col and Filter: the two data-movement layers without an ONNX operator of their own.

Im2col (:mod:`caffe_compat.layers.im2col`): ``Pad`` with zeros, then for each kernel offset
``(k_1, ..., k_n)`` (row-major, Caffe's order) a strided ``Slice`` starting at ``k_i
dilation_i`` and stepping by ``stride_i``, the slices stacked after the channel axis and merged
with it, so rows come channel-major ``(c, k_1, ..., k_n)`` as Caffe's column buffer. Only values
are copied: the result is exact.

Filter (:mod:`caffe_compat.layers.filter`): ``Compress`` along axis 0 with the condition
``selector != 0`` (``Not(Equal)``: NaN keeps its item, as Caffe's C++ truth test); the number
of items kept varies with the data, as in Caffe.
"""
import itertools
import math

from ..fields import declare_im2col
from ..registry import register_converter

declare_im2col("onnx")


@register_converter("Im2col")
def im2col(ctx):
    m = ctx.module
    shape = ctx.bottom_shapes[0]
    axis = m.axis
    spatial = shape[axis + 1:]
    out = m.rule.out_sizes(spatial)
    x = ctx.bottoms[0]
    rank = len(shape)
    # Caffe's zeros past the end for a window longer than the padded input
    extra = m.rule.far_padding(spatial)
    if any(m.pad) or any(extra):
        begins = [0] * (axis + 1) + list(m.pad)
        ends = [0] * (axis + 1) + [p + e for p, e in zip(m.pad, extra)]
        x = ctx.op("Pad", [x, ctx.ints(begins + ends, "pads")], mode="constant")
    axes = ctx.ints(range(axis + 1, rank), "spatial_axes")
    steps = ctx.ints(m.stride, "strides")
    stacked = []
    for offset in itertools.product(*[range(k) for k in m.kernel]):
        starts = [k * d for k, d in zip(offset, m.dilation)]
        ends = [s + (o - 1) * st + 1 for s, o, st in zip(starts, out, m.stride)]
        piece = ctx.op("Slice", [x, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), axes,
                                 steps])
        stacked.append(ctx.op("Unsqueeze", [piece, ctx.ints([axis + 1], "kernel_axis")]))
    cols = stacked[0] if len(stacked) == 1 else ctx.op("Concat", stacked, axis=axis + 1)
    target = [0] * axis + [shape[axis] * math.prod(m.kernel)] + list(out)
    return ctx.op("Reshape", [cols, ctx.ints(target, "columns")])


@register_converter("Filter")
def filter_(ctx):
    *data, selector = ctx.bottoms
    flat = ctx.op("Reshape", [selector, ctx.ints([-1], "flat")])
    keep = ctx.op("Not", [ctx.op("Equal", [flat, ctx.scalar(0.0, hint="zero")])])
    return [ctx.op("Compress", [b, keep], axis=0) for b in data]
