"""Reduction (:mod:`caffe_compat.rules.reduction`): per row of the axes from ``axis`` on, the
sum (of x, |x| or x^2; MEAN's coefficient divided by the count) accumulated in double and
stored as float, times the float coefficient; backward Caffe's: ``coeff dy`` (SUM, MEAN),
``coeff dy sign(x)`` (ASUM), ``2 coeff dy x`` (SUMSQ)."""
import math

import numpy as np

from ...rules.fields import declare
from ...rules.reduction import ASUM, FIELDS, SUMSQ, reduction_rule
from ..registry import register
from .base import BottomDiffLayer

F32 = np.float32
declare("array", "Reduction", "ReductionParameter", FIELDS)


@register("Reduction")
class Reduction(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(reduction_rule)

    def _rows(self, a, shape):
        return a.reshape(math.prod(shape[:self.rule.axis]), -1)

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        rows = self._rows(x, x.shape).astype(np.float64)
        if self.rule.operation == ASUM:
            rows = np.abs(rows)
        elif self.rule.operation == SUMSQ:
            rows = rows * rows
        sums = rows.sum(axis=1).astype(F32) if rows.shape[1] else np.zeros(len(rows), F32)
        coeff = F32(self.rule.scale(x.shape))
        if coeff != 1:
            sums *= coeff
        tops[0].reshape(-1)[...] = sums

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        x = bottoms[0]
        coeff = (top_diffs[0].reshape(-1, 1) * F32(self.rule.scale(x.shape))).astype(F32)
        out = self._rows(dx, dx.shape)
        rows = self._rows(x, x.shape)
        if self.rule.operation == ASUM:
            np.multiply(np.sign(rows), coeff, out=out)
        elif self.rule.operation == SUMSQ:
            np.multiply(rows, F32(2) * coeff, out=out)
        else:
            out[...] = coeff
