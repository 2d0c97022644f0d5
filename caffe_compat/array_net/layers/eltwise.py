"""Eltwise: SUM (``0 + c_0 b_0 + c_1 b_1 + ...`` in bottom order), PROD or MAX of equally
shaped bottoms (Caffe's EltwiseLayer, :mod:`caffe_compat.rules.eltwise`), in float32. MAX
keeps Caffe's ties: a tie of bottoms 0 and 1 goes to bottom 1, a later bottom wins only when
strictly greater; its gradient goes to the winner only. PROD's gradient is the product of the
other bottoms (``stable_prod_grad``) or ``top / bottom``; SUM's ``c_i dy``."""
import numpy as np

from ...rules.eltwise import FIELDS, MAX, PROD, SUM, eltwise_rule
from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Eltwise", "EltwiseParameter", FIELDS)

F32 = np.float32


@register("Eltwise")
class Eltwise(ArrayLayer):
    rule_of = staticmethod(eltwise_rule)
    top_of_all = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(param.top) == 1, "Eltwise of one top")
        self._mask = None           # MAX: the index of each element's winning bottom

    def forward(self, bottoms, tops, params):
        rule, y = self.rule, tops[0]
        if rule.operation == SUM:
            y[...] = 0
            for c, b in zip(rule.coeffs, bottoms):
                y += b if c == 1.0 else b * F32(c)
        elif rule.operation == PROD:
            np.multiply(bottoms[0], bottoms[1], out=y)
            for b in bottoms[2:]:
                y *= b
        else:
            a, b = bottoms[0], bottoms[1]
            first = a > b
            mask = np.where(first, 0, 1).astype(np.int32)
            np.copyto(y, np.where(first, a, b))
            for i, b in enumerate(bottoms[2:], start=2):
                win = b > y
                mask[win] = i
                np.copyto(y, b, where=win)
            self._mask = mask

    def can_backward(self):
        return self.rule.operation != MAX or self._mask is not None

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        rule, dy, top = self.rule, top_diffs[0], tops[0]
        for i, dx in enumerate(bottom_diffs):
            if dx is None:
                continue
            if rule.operation == SUM:
                c = rule.coeffs[i]
                if c == 1.0:
                    np.copyto(dx, dy)
                else:
                    np.multiply(dy, F32(c), out=dx)
            elif rule.operation == PROD:
                if rule.stable_prod_grad:
                    others = [b for j, b in enumerate(bottoms) if j != i]
                    prod = others[0].copy()
                    for b in others[1:]:
                        prod *= b
                    np.multiply(prod, dy, out=dx)
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        np.multiply(top / bottoms[i], dy, out=dx)
            else:
                np.multiply(dy, self._mask == i, out=dx)
