"""Crop (:mod:`caffe_compat.rules.crop`): Caffe's CropLayer. The first bottom cut to the
second's size on the axes from ``axis`` (default 2, negative from the end) on, starting at
``offset`` (none: 0; one value: every cropped axis; else one per cropped axis); axes before
``axis`` are kept; the window must fit. ONNX's Slice over the axes that change."""
import numpy as np

from ...rules.crop import FIELDS, crop_rule
from ._common import Unsupported, declare, register

declare("lite", "Crop", "CropParameter", FIELDS)


@register("Crop")
def crop(g, lp, bottoms, blobs):
    x, ref = bottoms
    n = len(x.shape)
    if len(ref.shape) != n:
        raise Unsupported(f"layer '{lp.name}': {n}-D and {len(ref.shape)}-D bottoms")
    rule = crop_rule(lp, [x.shape, ref.shape])
    starts, shape = rule.starts, rule.shape
    axes = [a for a in range(n) if starts[a] or shape[a] != x.shape[a]]
    if not axes:
        return [x]
    name = g.op("Slice", [x, g.const(np.array([starts[a] for a in axes], np.int64)),
                          g.const(np.array([starts[a] + shape[a] for a in axes], np.int64)),
                          g.const(np.array(axes, np.int64))])
    return [type(x)(name, shape)]
