"""Im2col: Caffe's im2col as a layer (geometry, top shape and refusals from
:mod:`caffe_compat.rules.im2col`). ``Pad`` with zeros (Caffe's pad, and the zeros past the end
that a window longer than the padded input reads), then for each kernel offset ``(k_1, ...,
k_n)`` (row-major, Caffe's order) a strided ``Slice`` starting at ``k_i dilation_i`` and
stepping by ``stride_i``, the slices stacked after the channel axis and merged with it, so that
rows come channel-major ``(c, k_1, ..., k_n)`` as Caffe's column buffer. Values are only
copied: the result is exact. The axes before the channel axis are copied (Reshape's 0)."""
import itertools

from ...rules.im2col import FIELDS, NO_EFFECT, im2col_rule
from ._common import declare, register

declare("lite", "Im2col", "ConvolutionParameter", FIELDS, no_effect=NO_EFFECT)


@register("Im2col")
def im2col(g, lp, bottoms, blobs):
    x, = bottoms
    rule = im2col_rule(lp, x.shape)
    top, axis, rank = rule.top_shape(x.shape), rule.axis, len(x.shape)
    spatial = x.shape[axis + 1:]
    out, extra = rule.out_sizes(spatial), rule.far_padding(spatial)
    name = g.name(x)
    if any(rule.pad) or any(extra):
        lead = [0] * (axis + 1)
        ends = [p + e for p, e in zip(rule.pad, extra)]
        name = g.op("Pad", [name, g.const(lead + list(rule.pad) + lead + ends)])
    axes, steps = g.const(list(range(axis + 1, rank))), g.const(list(rule.stride))
    kernel_axis = g.const([axis + 1])
    stacked = []
    for offset in itertools.product(*[range(k) for k in rule.kernel]):
        starts = [k * d for k, d in zip(offset, rule.dilation)]
        ends = [s + (o - 1) * st + 1 for s, o, st in zip(starts, out, rule.stride)]
        piece = g.op("Slice", [name, g.const(starts), g.const(ends), axes, steps])
        stacked.append(g.op("Unsqueeze", [piece, kernel_axis]))
    cols = stacked[0] if len(stacked) == 1 else g.op("Concat", stacked, {"axis": axis + 1})
    return [type(x)(g.op("Reshape", [cols, g.const([0] * axis + list(top[axis:]))]), top)]
