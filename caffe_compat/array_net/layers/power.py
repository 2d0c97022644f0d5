"""Power (:mod:`caffe_compat.rules.power`): Caffe's PowerLayer steps in float32 (scale,
shift and power each applied only where it changes the value; the constant output where
``power * scale`` is 0) and its Backward_cpu's special forms."""
import numpy as np

from ...rules.fields import declare
from ...rules.power import FIELDS, power_rule
from ..registry import register
from ._neuron import F32, NeuronArrayLayer, scaled_shifted

declare("array", "Power", "PowerParameter", FIELDS)


@register("Power")
class Power(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = power_rule(param)
        self.power, self.scale, self.shift = F32(rule.power), F32(rule.scale), F32(rule.shift)
        self.diff_scale = F32(rule.diff_scale)
        # reads only the top where the factor is a constant
        self.backward_from_top = bool(self.diff_scale == 0 or self.power == 1)

    def _base(self, x, out):
        return scaled_shifted(x, out, self.scale, self.shift)

    def forward(self, bottoms, tops, params):
        y = tops[0]
        if self.diff_scale == 0:
            y[...] = F32(self.rule.constant)
            return
        self._base(bottoms[0], y)
        if self.power != 1:
            with np.errstate(all="ignore"):
                np.power(y, self.power, out=y)

    def factor(self, x, y):
        if self.diff_scale == 0 or self.power == 1:
            return np.full_like(x, self.diff_scale)
        with np.errstate(all="ignore"):
            if self.power == 2:
                d = x * F32(self.diff_scale * self.scale)
                if self.shift != 0:
                    d += F32(self.diff_scale * self.shift)
                return d
            if self.shift == 0:
                d = y / x
                d *= self.power
                return d
            d = y / self._base(x, np.empty_like(x))
            if self.diff_scale != 1:
                d *= self.diff_scale
            return d
