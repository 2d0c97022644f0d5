"""Caffe's SliceLayer rules (slice_layer.cpp), read by every engine.

Parameters and defaults: ``axis`` (1; negative from the end), the legacy ``slice_dim`` (an
alias of a non-negative axis; giving both is refused), ``slice_point`` (the cut positions,
strictly increasing, one fewer than the tops; none: the axis divides equally among the tops).
Top shapes: the bottom's with the slice axis replaced by each part's size. Refusals, as Caffe's
CHECKs: both ``axis`` and ``slice_dim``, an axis out of range, a number of points other than
tops - 1, points not strictly increasing or past the axis, more tops than the axis holds, an
axis the tops do not divide when no points are given.
"""
from __future__ import annotations

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "slice_dim", "slice_point"})
_SECTION = "slice_param"


@frozen
class SliceRule:
    layer: object
    axis: int
    points: tuple
    tops: int

    def sizes(self, length):
        """The parts' sizes of an axis of ``length`` (Caffe's Reshape)."""
        n, length = self.tops, int(length)
        if self.points:
            if len(self.points) != n - 1:
                refuse(self.layer, f"{len(self.points)} slice_point(s) given for {n} tops "
                       f"(expected {n - 1})", f"{_SECTION}.slice_point")
            if n > length:
                refuse(self.layer, f"{n} tops cannot slice an axis of size {length}")
            prev, out = 0, []
            for p in self.points:
                if p <= prev:
                    refuse(self.layer, "slice points must be positive and increasing, got "
                           f"{list(self.points)}", f"{_SECTION}.slice_point")
                out.append(p - prev)
                prev = p
            if prev > length:
                refuse(self.layer, f"slice point {prev} is beyond the axis size {length}",
                       f"{_SECTION}.slice_point")
            out.append(length - prev)
            return out
        if length % n:
            refuse(self.layer, f"the number of tops ({n}) must evenly divide the slice axis "
                   f"size ({length}) when no slice_point is given")
        return [length // n] * n

    def offsets(self, length):
        """``[(start, stop)]`` of each top along the axis."""
        out, start = [], 0
        for s in self.sizes(length):
            out.append((start, start + s))
            start += s
        return out

    def top_shapes(self, shape):
        shape = tuple(int(d) for d in shape)
        a = self.axis
        if a >= len(shape):
            refuse(self.layer, f"slice axis {a} out of range for a {len(shape)}-axis bottom")
        return [shape[:a] + (s,) + shape[a + 1:] for s in self.sizes(shape[a])]


def slice_rule(layer, bottom_shapes):
    """The :class:`SliceRule` of ``layer`` for its first bottom's shape."""
    p = layer.slice_param
    shape = tuple(int(d) for d in bottom_shapes[0])
    if p.HasField("axis") and p.HasField("slice_dim"):
        refuse(layer, "give either axis or slice_dim (deprecated), not both",
               f"{_SECTION}.slice_dim")
    if p.HasField("slice_dim"):
        dim = int(p.slice_dim)
        if dim >= len(shape):
            refuse(layer, f"slice_dim {dim} out of range for a {len(shape)}-axis bottom "
                   f"(expected 0 <= slice_dim < {len(shape)})", f"{_SECTION}.slice_dim")
        axis = dim
    else:
        axis = canonical_axis(layer, int(p.axis), len(shape), field=f"{_SECTION}.axis")
    rule = SliceRule(layer, axis, tuple(int(x) for x in p.slice_point), len(layer.top))
    rule.top_shapes(shape)
    return rule
