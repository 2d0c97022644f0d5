"""MVN (:mod:`caffe_compat.rules.mvn`): per row (num x channel, or num across channels) the
mean subtracted and, with ``normalize_variance``, divided by ``sqrt(var) + eps`` (the means in
double, stored as float, as Caffe's gemv with ``1. / dim`` keeps them near); backward Caffe's:
``(dy - mean(dy) - y mean(dy y)) / (sqrt(var) + eps)``, or ``dy - mean(dy)``."""
import numpy as np

from ...rules.fields import declare
from ...rules.mvn import FIELDS, mvn_rule
from ..registry import Unsupported, register
from .base import BottomDiffLayer

F32 = np.float32
declare("array", "MVN", "MVNParameter", FIELDS)


def _row_mean(a):
    return a.mean(axis=1, dtype=np.float64, keepdims=True).astype(F32)


@register("MVN")
class MVN(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(mvn_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self._denom = None

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        rows = x.reshape(self.rule.rows(x.shape))
        y = tops[0].reshape(rows.shape)
        np.subtract(rows, _row_mean(rows), out=y)
        if self.rule.normalize_variance:
            denom = np.sqrt(_row_mean(y * y))
            denom += F32(self.rule.eps)
            y /= denom
            self._denom = denom

    def can_backward(self):
        return not self.rule.normalize_variance or self._denom is not None

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        shape = self.rule.rows(dx.shape)
        dy, out = top_diffs[0].reshape(shape), dx.reshape(shape)
        if not self.rule.normalize_variance:
            np.subtract(dy, _row_mean(dy), out=out)
            return
        y = tops[0].reshape(shape)
        if self._denom is None or self._denom.shape[0] != shape[0]:
            raise Unsupported("MVN backward without its forward")
        grad = dy - _row_mean(dy) - y * _row_mean(dy * y)
        np.divide(grad, self._denom, out=out)
