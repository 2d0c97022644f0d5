"""Flatten's rule (``flatten_layer.cpp``), read by every engine: the axes ``axis`` to
``end_axis`` (defaults 1 and -1, negative from the end) merged into one, the others kept;
``end_axis == axis - 1`` inserts an axis of length 1 at ``axis``. Refused, as Caffe's CHECKs:
in-place use, an axis out of range, an earlier ``end_axis``."""
from __future__ import annotations

import math

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "end_axis"})
_SECTION = "flatten_param"


@frozen
class FlattenRule:
    layer: object
    start: int
    end: int

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        return shape[:self.start] + (math.prod(shape[self.start:self.end + 1]),) + \
            shape[self.end + 1:]


def flatten_rule(layer, bottom_shapes):
    """The :class:`FlattenRule` of ``layer`` for its bottom's shape."""
    if list(layer.top) == list(layer.bottom):
        refuse(layer, "Flatten does not allow in-place computation (top == bottom)")
    fp = layer.flatten_param
    shape = tuple(bottom_shapes[0])
    start = canonical_axis(layer, int(fp.axis), len(shape), field=f"{_SECTION}.axis")
    end = canonical_axis(layer, int(fp.end_axis), len(shape), "end_axis",
                         field=f"{_SECTION}.end_axis")
    if end + 1 < start:
        refuse(layer, f"end_axis ({fp.end_axis} -> {end}) must not come before axis "
               f"({fp.axis} -> {start}) - 1 for bottom shape {shape}", f"{_SECTION}.end_axis")
    return FlattenRule(layer, start, end)
