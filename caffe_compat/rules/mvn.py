"""Caffe's MVNLayer rules (mvn_layer.cpp), read by every engine.

Parameters and defaults: ``normalize_variance`` true, ``across_channels`` false, ``eps``
1e-9. Rows: one per (num, channel), or per num ``across_channels`` (Caffe's legacy 4-axis
accessors). ``y = (x - mean) / (sqrt(var) + eps)``, ``var`` the mean squared deviation;
without ``normalize_variance`` ``y = x - mean``. Caffe's backward: ``(dy - mean(dy) - y
mean(dy y)) / (sqrt(var) + eps)``, or ``dy - mean(dy)``. Refused: a bottom of other than 1
to 4 axes.
"""
from __future__ import annotations

import math
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"normalize_variance", "across_channels", "eps"})


@frozen
class MVNRule:
    layer: object
    normalize_variance: bool
    across_channels: bool
    eps: float

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if not 1 <= len(shape) <= 4:
            refuse(self.layer, f"bottom must have 1 to 4 axes (num, channels, height, width), "
                   f"got {shape}")
        return shape

    def rows(self, shape):
        """(rows, values per row) of a bottom of ``shape``."""
        rows = shape[0] if self.across_channels or len(shape) < 2 else shape[0] * shape[1]
        return rows, (math.prod(shape) // rows if rows else 0)


def mvn_rule(layer, bottom_shapes=None):
    p = layer.mvn_param
    rule = MVNRule(layer, bool(p.normalize_variance), bool(p.across_channels), float(p.eps))
    for shape in bottom_shapes or ():
        rule.top_shape(shape)
    return rule
