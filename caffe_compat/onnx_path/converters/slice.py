"""Slice: one ONNX Slice node per top along the slice axis (the axis, the parts and the
refusals from :mod:`caffe_compat.rules.slice`); a constant bottom gives constant tops."""
import numpy as np

from ...rules.slice import FIELDS, slice_rule
from ._common import declare, register

declare("lite", "Slice", "SliceParameter", FIELDS)


@register("Slice")
def slice_(g, lp, bottoms, blobs):
    x, = bottoms
    rule = slice_rule(lp, [x.shape])
    shapes = rule.top_shapes(x.shape)
    bounds = rule.offsets(x.shape[rule.axis])
    if len(bounds) == 1:
        return [x]
    if x.const is not None:
        lead = (slice(None),) * rule.axis
        return [g.constant(x.const[lead + (slice(lo, hi),)]) for lo, hi in bounds]
    axes = g.const(np.array([rule.axis], np.int64), "axes")
    out = []
    for (lo, hi), shape in zip(bounds, shapes):
        y = g.op("Slice", [x, g.const(np.array([lo], np.int64), "starts"),
                           g.const(np.array([hi], np.int64), "ends"), axes])
        out.append(type(x)(y, shape))
    return out
