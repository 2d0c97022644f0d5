"""Caffe's TileLayer rules (tile_layer.cpp), read by every engine: ``axis`` (default 1,
negative from the end), ``tiles``; the block of axes from ``axis`` on repeated ``tiles`` times
(``shape[axis] *= tiles``). Backward: the sum of the copies. Refusals, as Caffe's CHECKs: an
axis out of range, ``tiles`` not positive (unset included)."""
from __future__ import annotations

import math
from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "tiles"})
_SECTION = "tile_param"


@frozen
class TileRule:
    layer: object
    axis: int
    tiles: int

    def top_shape(self, shape):
        s = tuple(int(d) for d in shape)
        return s[:self.axis] + (s[self.axis] * self.tiles,) + s[self.axis + 1:]

    def blocks(self, shape):
        """(outer, inner): the count before ``axis`` and of the block from ``axis`` on."""
        return math.prod(shape[:self.axis]), math.prod(shape[self.axis:])


def tile_rule(layer, bottom_shapes):
    p = layer.tile_param
    axis = canonical_axis(layer, int(p.axis), len(bottom_shapes[0]), field=f"{_SECTION}.axis")
    if int(p.tiles) <= 0:
        refuse(layer, f"tiles must be positive, got {p.tiles}", f"{_SECTION}.tiles")
    return TileRule(layer, axis, int(p.tiles))
