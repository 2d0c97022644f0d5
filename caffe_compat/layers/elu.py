"""ELU: ``max(x, 0) + alpha * (exp(min(x, 0)) - 1)`` (exp minus one, not expm1).

Caffe's backward uses the output: ``dy * (x > 0 ? 1 : alpha + y)``, so at ``x == 0`` the
gradient is ``alpha`` rather than 1.
"""
import torch

from ..rules.elu import FIELDS, elu_rule
from ..rules.fields import declare
from ._neuron import FormulaNeuronLayer
from .registry import register_layer

declare("torch", "ELU", "ELUParameter", FIELDS)


@register_layer("ELU")
class ELU(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.alpha = elu_rule(param).alpha

    def _fwd(self, x):
        return torch.clamp_min(x, 0) + self.alpha * (torch.exp(torch.clamp_max(x, 0)) - 1)

    def _bwd(self, x, y, dy):
        return dy * torch.where(x > 0, torch.ones_like(y), self.alpha + y)
