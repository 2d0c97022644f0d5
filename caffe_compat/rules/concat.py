"""Concat's rule (``concat_layer.cpp``), read by every engine: the bottoms joined along
``concat_param.axis`` (default 1; negative counts from the end) or the legacy ``concat_dim`` (a
non-negative axis). Refused, as Caffe's CHECKs: both given, an axis out of range, bottoms of
another number of axes or of other lengths off the joined axis."""
from __future__ import annotations

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"axis", "concat_dim"})
_SECTION = "concat_param"


@frozen
class ConcatRule:
    layer: object
    axis: int

    def top_shape(self, bottom_shapes):
        """The joined shape, refusing bottoms that do not fit."""
        first = tuple(int(d) for d in bottom_shapes[0])
        axis, total = self.axis, 0
        for s in bottom_shapes:
            s = tuple(int(d) for d in s)
            if len(s) != len(first):
                refuse(self.layer, "all bottoms must have the same number of axes, got "
                       f"{[tuple(b) for b in bottom_shapes]}")
            if any(a != b for j, (a, b) in enumerate(zip(s, first)) if j != axis):
                refuse(self.layer, f"all bottoms must have the same shape except on axis "
                       f"{axis}, got {[tuple(b) for b in bottom_shapes]}")
            total += s[axis]
        return first[:axis] + (total,) + first[axis + 1:]


def concat_rule(layer, bottom_shapes):
    """The :class:`ConcatRule` of ``layer`` for its bottoms' shapes (their check included)."""
    cp = layer.concat_param
    n = len(bottom_shapes[0])
    if cp.HasField("axis") and cp.HasField("concat_dim"):
        refuse(layer, "give either axis or concat_dim (deprecated), not both", _SECTION)
    if cp.HasField("concat_dim"):
        if cp.concat_dim >= n:
            refuse(layer, f"concat_dim {cp.concat_dim} out of range for a {n}-axis bottom "
                   f"(expected 0 <= concat_dim < {n})", f"{_SECTION}.concat_dim")
        axis = int(cp.concat_dim)
    else:
        axis = canonical_axis(layer, int(cp.axis), n, field=f"{_SECTION}.axis")
    rule = ConcatRule(layer, axis)
    rule.top_shape(bottom_shapes)
    return rule
