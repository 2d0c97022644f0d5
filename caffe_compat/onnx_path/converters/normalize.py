"""Normalize (the rule in :mod:`caffe_compat.rules.normalize`): ReduceSumSquare, Sqrt of the sum
plus ``eps``, Div, then Mul by the scale blob, as ONNX nodes."""
import numpy as np

from ...rules.normalize import FIELDS, normalize_rule
from ._common import F32, blob_count, declare, elementwise, param_blob, register

# the scale comes from the caffemodel only (a missing blob, which the filler would fill, goes
# to the torch path)
declare("lite", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        FIELDS - {"scale_filler"}, refuses={"scale_filler"})


@register("Normalize")
@elementwise("NormalizeBBox")
def normalize(g, lp, x, blobs):
    rule = normalize_rule(lp, [x.shape])
    rule.top_shape(x.shape)
    n = len(x.shape)
    axes = list(range(1, n)) if rule.across_spatial else [1]
    sq = g.op("ReduceSumSquare", [x], {"axes": axes, "keepdims": 1})
    norm = g.op("Sqrt", [g.op("Add", [sq, g.const(np.array(rule.eps, F32))])])
    y = g.op("Div", [x, norm])
    blob_count(lp, blobs, 1)
    s = param_blob(lp, blobs, 0, rule.scale_shape())
    s = s.reshape(()) if rule.channel_shared else s.reshape((x.shape[1],) + (1,) * (n - 2))
    return g.op("Mul", [y, g.const(s)])
