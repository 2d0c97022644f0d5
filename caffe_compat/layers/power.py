"""Power: ``y = (shift + scale * x) ^ power`` with Caffe's special cases.

Forward: when ``power * scale == 0`` the input is ignored and every output is
``1 if power == 0 else shift ^ power`` (so ``power: 0`` gives 1 even where the base is 0).
Backward is Caffe's, not the true derivative:

- ``power * scale == 0``: gradient 0;  ``power == 1``: ``scale * dy``;
- ``power == 2``: ``dy * 2 scale (shift + scale x)``;
- ``shift == 0``: ``dy * power * y / x`` -- NaN at ``x == 0`` (e.g. ``power: 0.5``), where
  the true derivative would be inf or 0;
- otherwise ``dy * power * scale * y / (shift + scale x)``.
"""
import torch

from ..rules.fields import declare
from ..rules.power import FIELDS, power_rule
from ._neuron import FormulaNeuronLayer, f32, scaled_shifted
from .registry import register_layer

declare("torch", "Power", "PowerParameter", FIELDS)


@register_layer("Power")
class Power(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = power_rule(param)
        self.power, self.scale, self.shift = rule.power, rule.scale, rule.shift
        self.diff_scale = rule.diff_scale

    def _fwd(self, x):
        if self.diff_scale == 0.0:
            return torch.full_like(x, self.rule.constant)
        t = scaled_shifted(x, self.scale, self.shift)
        return t if self.power == 1.0 else torch.pow(t, self.power)

    def _bwd(self, x, y, dy):
        if self.diff_scale == 0.0:
            return torch.zeros_like(dy)
        if self.power == 1.0:
            return dy * self.diff_scale
        if self.power == 2.0:
            d = x * f32(self.diff_scale * self.scale)
            if self.shift != 0.0:
                d = d + f32(self.diff_scale * self.shift)
        elif self.shift == 0.0:
            d = (y / x) * self.power
        else:
            d = y / scaled_shifted(x, self.scale, self.shift)
            if self.diff_scale != 1.0:
                d = d * self.diff_scale
        return dy * d
