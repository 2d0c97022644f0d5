"""Log: ``y = log_base(shift + scale * x)``, ``base: -1`` (the default) meaning e.

Computed as ``ln(shift + scale x) / ln(base)``; backward ``dy * (scale / ln(base)) /
(shift + scale x)``. ``base`` must be -1 or positive and not 1.
"""
import torch

from ..rules.fields import declare
from ..rules.log import FIELDS, log_rule
from ._neuron import FormulaNeuronLayer, scaled_shifted
from .registry import register_layer

declare("torch", "Log", "LogParameter", FIELDS)


@register_layer("Log")
class Log(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = log_rule(param)
        self.base_scale, self.backward_scale = rule.base_scale, rule.backward_scale
        self.scale, self.shift = rule.scale, rule.shift

    def _fwd(self, x):
        y = torch.log(scaled_shifted(x, self.scale, self.shift))
        return y if self.base_scale == 1.0 else y * self.base_scale

    def _bwd(self, x, y, dy):
        d = torch.reciprocal(scaled_shifted(x, self.scale, self.shift))
        if self.backward_scale != 1.0:
            d = d * self.backward_scale
        return dy * d
