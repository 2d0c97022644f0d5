"""Interp (:mod:`caffe_compat.rules.interp`): the crop as a Slice, then ONNX's Resize, linear
with ``align_corners``, to the rule's size; the batch and channel lengths copied from the input
(Shape), so no batch length is written."""
import numpy as np

from ...rules.interp import FIELDS, interp_rule
from ._common import declare, register

declare("lite", "Interp", "InterpParameter", FIELDS)


@register("Interp")
def interp(g, lp, bottoms, blobs):
    shapes = [b.shape for b in bottoms]
    rule = interp_rule(lp, shapes)
    top = rule.top_shape(shapes)
    x = bottoms[0]
    ints = lambda v: g.const(np.array(v, np.int64))
    first, h, w = rule.cropped(x.shape)
    source = g.name(x)
    if (first, h, w) != (0, x.shape[2], x.shape[3]):
        source = g.op("Slice", [source, ints([first, first]), ints([first + h, first + w]),
                                ints([2, 3])])
    lengths = g.op("Slice", [g.op("Shape", [source]), ints([0]), ints([2])])
    sizes = g.op("Concat", [lengths, ints(list(top[2:]))], {"axis": 0})
    out = g.op("Resize", [source, "", "", sizes],
               {"mode": "linear", "coordinate_transformation_mode": "align_corners"})
    return [type(x)(out, top)]
