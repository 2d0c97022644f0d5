"""Exp (:mod:`caffe_compat.rules.exp`): ``outer exp(inner x)`` in float32 with Caffe's float
constants; backward ``dy y inner`` (from the top: in place allowed)."""
import numpy as np

from ...rules.exp import FIELDS, exp_rule
from ...rules.fields import declare
from ..registry import register
from ._neuron import F32, NeuronArrayLayer

declare("array", "Exp", "ExpParameter", FIELDS)


@register("Exp")
class Exp(NeuronArrayLayer):
    backward_from_top = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = exp_rule(param)
        self.inner, self.outer = F32(rule.inner), F32(rule.outer)

    def forward(self, bottoms, tops, params):
        y = tops[0]
        with np.errstate(over="ignore"):
            if self.inner == 1:
                np.exp(bottoms[0], out=y)
            else:
                np.multiply(bottoms[0], self.inner, out=y)
                np.exp(y, out=y)
        if self.outer != 1:
            y *= self.outer

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """Caffe's order: ``y * dy``, then times ``inner``."""
        dx = bottom_diffs[0]
        if dx is None:
            return
        np.multiply(tops[0], top_diffs[0], out=dx)
        if self.inner != 1:
            dx *= self.inner
