"""Flatten: Caffe's FlattenLayer joins axes ``axis`` (default 1) to ``end_axis`` (default -1)
into one; a Reshape to the shape computed here (constants stay constants)."""
import math

from ...rules.fields import declare
from ._common import canonical_axis, register
from .reshape import reshaped

declare("lite", "Flatten", "FlattenParameter", {"axis", "end_axis"})


@register("Flatten")
def flatten(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.flatten_param
    a = canonical_axis(int(p.axis), len(x.shape), lp)
    e = canonical_axis(int(p.end_axis), len(x.shape), lp)
    shape = x.shape[:a] + (math.prod(x.shape[a:e + 1]),) + x.shape[e + 1:]
    return [reshaped(g, x, shape)]
