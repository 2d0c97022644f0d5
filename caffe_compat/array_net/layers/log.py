"""Log (:mod:`caffe_compat.rules.log`): ``base_scale ln(shift + scale x)`` in float32 with
Caffe's float constants and steps; backward ``dy backward_num_scale / (shift + scale x)``."""
import numpy as np

from ...rules.fields import declare
from ...rules.log import FIELDS, log_rule
from ..registry import register
from ._neuron import F32, NeuronArrayLayer, scaled_shifted

declare("array", "Log", "LogParameter", FIELDS)


@register("Log")
class Log(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = log_rule(param)
        self.scale, self.shift = F32(rule.scale), F32(rule.shift)
        self.base_scale, self.backward_scale = F32(rule.base_scale), F32(rule.backward_scale)

    def _inner(self, x, out):
        return scaled_shifted(x, out, self.scale, self.shift)

    def forward(self, bottoms, tops, params):
        y = self._inner(bottoms[0], tops[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(y, out=y)
        if self.base_scale != 1:
            y *= self.base_scale

    def factor(self, x, y):
        with np.errstate(divide="ignore"):
            d = np.reciprocal(self._inner(x, np.empty_like(x)))
        if self.backward_scale != 1:
            d *= self.backward_scale
        return d
