"""Caffe's ReductionLayer rules (reduction_layer.cpp), read by every engine.

Parameters and defaults: ``operation`` SUM (or ASUM: sum of |x|, SUMSQ: sum of x^2, MEAN),
``axis`` 0 (negative from the end; every axis from it on is reduced), ``coeff`` 1. The top has
the bottom's axes before ``axis`` (0-d for axis 0). MEAN's coefficient as Caffe holds it:
``coeff / count(axis)`` in float. Backward: SUM and MEAN ``coeff dy``, ASUM ``coeff sign(x)
dy``, SUMSQ ``2 coeff x dy``. Refusals: an axis out of range, an unknown operation.
"""
from __future__ import annotations

import math
import numpy as np

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

SUM, ASUM, SUMSQ, MEAN = 1, 2, 3, 4
FIELDS = frozenset({"operation", "axis", "coeff"})
_SECTION = "reduction_param"


@frozen
class ReductionRule:
    layer: object
    operation: int
    axis: int
    coeff: float

    def top_shape(self, shape):
        return tuple(int(d) for d in shape)[:self.axis]

    def scale(self, shape):
        """The float coefficient the sums are multiplied by (MEAN's divided by the count)."""
        c = np.float32(self.coeff)
        if self.operation == MEAN:
            c = c / np.float32(math.prod(shape[self.axis:]))
        return float(np.float32(c))


def reduction_rule(layer, bottom_shapes):
    p = layer.reduction_param
    op = int(p.operation)
    if op not in (SUM, ASUM, SUMSQ, MEAN):
        refuse(layer, f"unknown operation {op} (expected SUM, ASUM, SUMSQ or MEAN)",
               f"{_SECTION}.operation")
    axis = canonical_axis(layer, int(p.axis), len(bottom_shapes[0]), field=f"{_SECTION}.axis")
    return ReductionRule(layer, op, axis, float(p.coeff))
