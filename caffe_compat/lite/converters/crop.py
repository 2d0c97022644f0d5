"""Crop: Caffe's CropLayer. The first bottom cut to the second's size on the axes from ``axis``
(default 2, negative from the end) on, starting at ``offset`` (none: 0; one value: every
cropped axis; else one per cropped axis); axes before ``axis`` are kept; the window must fit."""
import numpy as np

from ._common import Unsupported, canonical_axis, register


@register("Crop")
def crop(g, lp, bottoms, blobs):
    x, ref = bottoms
    n = len(x.shape)
    if len(ref.shape) != n:
        raise Unsupported(f"layer '{lp.name}': {n}-D and {len(ref.shape)}-D bottoms")
    axis = canonical_axis(int(lp.crop_param.axis), n, lp)
    offsets = [int(o) for o in lp.crop_param.offset]
    cropped = n - axis
    if len(offsets) == 0:
        offsets = [0] * cropped
    elif len(offsets) == 1:
        offsets = offsets * cropped
    elif len(offsets) != cropped:
        raise Unsupported(f"layer '{lp.name}': {len(offsets)} offsets for {cropped} axes")
    shape = list(x.shape[:axis]) + list(ref.shape[axis:])
    starts = [0] * axis + offsets
    if any(s + d > full for s, d, full in zip(starts, shape, x.shape)):
        raise Unsupported(f"layer '{lp.name}': window {shape} at {starts} does not fit "
                          f"{x.shape}")
    axes = [a for a in range(axis, n) if starts[a] or shape[a] != x.shape[a]]
    if not axes:
        return [x]
    name = g.op("Slice", [x, g.const(np.array([starts[a] for a in axes], np.int64)),
                          g.const(np.array([starts[a] + shape[a] for a in axes], np.int64)),
                          g.const(np.array(axes, np.int64))])
    return [type(x)(name, shape)]
