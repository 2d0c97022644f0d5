"""Caffe's CropLayer rules (crop_layer.cpp), read by every engine.

Parameters and defaults: ``axis`` 2 (negative from the end), ``offset`` (none: 0 on every
cropped axis; one value: the same on each; otherwise one per axis from ``axis`` on). The top
keeps bottom 0's axes before ``axis`` and takes bottom 1's from ``axis`` on; the window starts
at the offsets. Refusals, as Caffe's CHECKs: an axis out of range, a count of offsets other
than 1 or the cropped axes', a reference bottom with fewer axes, a window past bottom 0.
Backward: bottom 0's diff is the top's inside the window, 0 elsewhere; bottom 1 gets none.
"""
from __future__ import annotations

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "offset"})
_SECTION = "crop_param"


@frozen
class CropRule:
    layer: object
    axis: int
    starts: tuple       # per axis of bottom 0
    shape: tuple        # the top's

    def top_shape(self, shape=None, ref=None):
        return self.shape

    def window(self):
        """The top's place in bottom 0: one slice per axis."""
        return tuple(slice(s, s + n) for s, n in zip(self.starts, self.shape))


def crop_rule(layer, bottom_shapes):
    p = layer.crop_param
    shape, ref = (tuple(int(d) for d in s) for s in bottom_shapes[:2])
    n = len(shape)
    axis = canonical_axis(layer, int(p.axis), n, field=f"{_SECTION}.axis")
    offsets = [int(o) for o in p.offset]
    if len(offsets) > 1 and axis + len(offsets) != n:
        refuse(layer, f"{len(offsets)} offsets given; expected one per axis from {axis} on "
               f"({n - axis}), or a single one", f"{_SECTION}.offset")
    if len(ref) < n:
        refuse(layer, f"the reference bottom {ref} needs at least {n} axes")
    starts, sizes = [], []
    for i in range(n):
        off, size = 0, shape[i]
        if i >= axis:
            off = offsets[0] if len(offsets) == 1 else (offsets[i - axis] if offsets else 0)
            size = ref[i]
            if shape[i] - off < ref[i]:
                refuse(layer, f"cannot crop axis {i}: bottom size {shape[i]} minus offset "
                       f"{off} is smaller than the reference size {ref[i]} (shapes {shape}, "
                       f"{ref})", f"{_SECTION}.offset")
        starts.append(off)
        sizes.append(size)
    return CropRule(layer, axis, tuple(starts), tuple(sizes))
