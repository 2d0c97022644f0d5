"""Caffe's ArgMaxLayer rules (argmax_layer.cpp), read by every engine: ``top_k`` (default 1),
``out_max_val`` (default false), ``axis`` (unset: each item's ``count(1)`` values ranked
together).

Top shape (Reshape): with ``axis`` the bottom's shape with ``shape[axis] = top_k`` (the
indices, or only the values with ``out_max_val``); without it ``(N, 1, top_k)``, or
``(N, 2, top_k)`` with ``out_max_val`` (indices, then values), padded with trailing ones to
the bottom's number of axes (at least 3). Ranking: ``std::partial_sort`` with
``greater<pair<value, index>>``, so among equal values the larger index comes first; indices
are stored as floats. No backward. Refusals, as Caffe's CHECKs: ``top_k`` below 1, an axis
out of range, ``top_k`` above the ranked length."""
from __future__ import annotations

import math

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"out_max_val", "top_k", "axis"})
_SECTION = "argmax_param"


@frozen
class ArgMaxRule:
    layer: object
    top_k: int
    out_max_val: bool
    axis: object            # the canonical axis, or None: each item flattened

    def length(self, shape):
        """How many values are ranked together."""
        return int(shape[self.axis]) if self.axis is not None else math.prod(shape[1:])

    def top_shape(self, shape):
        shape = [int(d) for d in shape]
        if self.axis is not None:
            shape[self.axis] = self.top_k
            return tuple(shape)
        out = [1] * max(len(shape), 3)
        out[0], out[1], out[2] = shape[0], 2 if self.out_max_val else 1, self.top_k
        return tuple(out)


def arg_max_rule(layer, bottom_shapes):
    """The :class:`ArgMaxRule` of ``layer`` for its bottom's shape, refusing what Caffe's
    LayerSetUp refuses."""
    p = layer.argmax_param
    shape = tuple(int(d) for d in bottom_shapes[0])
    top_k = int(p.top_k)
    if top_k < 1:
        refuse(layer, f"top_k must be at least 1, got {top_k}", f"{_SECTION}.top_k")
    axis = None
    if p.HasField("axis"):
        axis = canonical_axis(layer, int(p.axis), len(shape), field=f"{_SECTION}.axis")
    rule = ArgMaxRule(layer, top_k, bool(p.out_max_val), axis)
    length = rule.length(shape)
    if top_k > length:
        what = f"the size of axis {axis}" if axis is not None else "the flattened item size"
        refuse(layer, f"top_k ({top_k}) exceeds {what} ({length}) of bottom shape {shape}",
               f"{_SECTION}.top_k")
    return rule
