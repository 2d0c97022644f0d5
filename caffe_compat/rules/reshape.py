"""Caffe's ReshapeLayer rules (reshape_layer.cpp), read by every engine.

Parameters and defaults: ``shape`` (the new dimensions), ``axis`` 0 (negative: ``n + axis +
1``, -1 meaning after the last axis), ``num_axes`` -1 (to the last axis). ``shape`` replaces
the bottom axes ``[axis, axis + num_axes)``; a 0 copies the bottom's dimension at ``axis + i``,
one -1 is inferred from the count. Refusals, as Caffe's CHECKs: in place, a dimension below -1,
two -1, an axis or ``num_axes`` out of range, a 0 with no bottom axis to copy, a count not
divisible by the given dimensions or other than the bottom's.
"""
from __future__ import annotations

import math
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"shape", "axis", "num_axes"})
_SECTION = "reshape_param"


@frozen
class ReshapeRule:
    layer: object
    dims: tuple
    axis: int
    num_axes: int

    def span(self, n):
        """``(start, end)``: the axes of an ``n``-axis bottom that the new dimensions
        replace."""
        start = self.axis if self.axis >= 0 else n + self.axis + 1
        if not 0 <= start <= n:
            refuse(self.layer, f"axis {self.axis} out of range for a {n}-axis bottom",
                   f"{_SECTION}.axis")
        end = n if self.num_axes == -1 else start + self.num_axes
        if end > n:
            refuse(self.layer, f"axis + num_axes = {end} is out of range for a {n}-axis "
                   "bottom", f"{_SECTION}.num_axes")
        return start, end

    def top_shape(self, shape):
        """The top's shape for a bottom of ``shape`` (Caffe's ReshapeLayer::Reshape)."""
        shape = tuple(int(d) for d in shape)
        n = len(shape)
        start, end = self.span(n)
        new = list(self.dims)
        for i, d in enumerate(self.dims):
            if d == 0:
                if start + i >= n:
                    refuse(self.layer, f"new shape {list(self.dims)} has a 0 at position {i} "
                           f"but the bottom {shape} has no axis {start + i} to copy",
                           f"{_SECTION}.shape")
                new[i] = shape[start + i]
        top = list(shape[:start]) + new + list(shape[end:])
        total = math.prod(shape)
        if -1 in new:
            known = math.prod(d for d in top if d != -1)
            if known == 0 or total % known:
                refuse(self.layer, f"bottom count {total} (shape {shape}) is not divisible by "
                       f"the product {known} of the specified dimensions {list(self.dims)}",
                       f"{_SECTION}.shape")
            top[top.index(-1)] = total // known
        if math.prod(top) != total:
            refuse(self.layer, f"new shape {tuple(top)} has {math.prod(top)} elements, the "
                   f"bottom {shape} has {total}", f"{_SECTION}.shape")
        return tuple(top)


def reshape_rule(layer, bottom_shapes=None):
    p = layer.reshape_param
    if len(layer.top) and list(layer.top) == list(layer.bottom):
        refuse(layer, "Reshape does not allow in-place computation (top == bottom)")
    dims = tuple(int(d) for d in p.shape.dim)
    if any(d < -1 for d in dims):
        refuse(layer, f"shape dimensions must be >= -1 (0 = copy, -1 = infer), got "
               f"{list(dims)}", f"{_SECTION}.shape")
    if dims.count(-1) > 1:
        refuse(layer, f"at most one -1 may be given in the new shape, got {list(dims)}",
               f"{_SECTION}.shape")
    if p.num_axes < -1:
        refuse(layer, f"num_axes must be >= 0, or -1 for all remaining axes, got "
               f"{p.num_axes}", f"{_SECTION}.num_axes")
    rule = ReshapeRule(layer, dims, int(p.axis), int(p.num_axes))
    for shape in bottom_shapes or ():
        rule.top_shape(shape)
    return rule
