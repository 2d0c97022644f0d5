"""Exp: ``y = base ^ (shift + scale * x)``, ``base: -1`` (the default) meaning e.

Computed as Caffe does: ``outer * exp(inner * x)`` with ``inner = ln(base) * scale`` and
``outer = base ^ shift`` (``exp(shift)`` for base e, 1 when shift is 0); backward
``dy * y * inner``. ``base`` must be -1 or positive.
"""
import torch

from ..rules.exp import FIELDS, exp_rule
from ..rules.fields import declare
from ._neuron import FormulaNeuronLayer
from .registry import register_layer

declare("torch", "Exp", "ExpParameter", FIELDS)


@register_layer("Exp")
class Exp(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = exp_rule(param)
        self.inner, self.outer = rule.inner, rule.outer

    def _fwd(self, x):
        y = torch.exp(x if self.inner == 1.0 else x * self.inner)
        return y if self.outer == 1.0 else y * self.outer

    def _bwd(self, x, y, dy):
        d = y * dy
        return d if self.inner == 1.0 else d * self.inner
