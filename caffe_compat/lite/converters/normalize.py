"""Normalize (SSD; OpenCV also names it NormalizeBBox): ``x / sqrt(sum of x^2 + eps)`` with the
sum over each item's values (``across_spatial``, default true) or over the channels at each
position, ``eps`` default 1e-10 added to the sum, then times the ``scale`` blob: one value
(``channel_shared``, default true) or one per channel."""
import numpy as np

from ...rules.fields import declare
from ._common import F32, Unsupported, blob_count, param_blob, register

# the scale comes from the caffemodel only (a missing blob, which the filler would fill, goes
# to the torch path)
declare("lite", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "channel_shared", "eps"}, refuses={"scale_filler"})


@register("Normalize")
@register("NormalizeBBox")
def normalize(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.norm_param
    n = len(x.shape)
    if n < 2:
        raise Unsupported(f"layer '{lp.name}': input {x.shape}")
    axes = list(range(1, n)) if p.across_spatial else [1]
    sq = g.op("ReduceSumSquare", [x], {"axes": axes, "keepdims": 1})
    norm = g.op("Sqrt", [g.op("Add", [sq, g.const(np.array(p.eps, F32))])])
    y = g.op("Div", [x, norm])
    blob_count(lp, blobs, 1)
    if p.channel_shared:
        s = param_blob(lp, blobs, 0, (1,)).reshape(())
    else:
        s = param_blob(lp, blobs, 0, (x.shape[1],)).reshape((x.shape[1],) + (1,) * (n - 2))
    y = g.op("Mul", [y, g.const(s)])
    return [type(x)(y, x.shape)]
