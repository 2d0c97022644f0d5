"""Clip: ``max(min, min(x, max))`` with Caffe's std::min/std::max semantics, so a NaN input
becomes ``min`` (torch.clamp would keep NaN). Backward passes ``dy`` where
``min <= x <= max`` (both bounds included) and 0 elsewhere. Both bounds are required;
``min > max`` is rejected here (Caffe would silently output ``min`` everywhere)."""
import torch

from ..rules.clip import FIELDS, clip_rule
from ..rules.fields import declare
from ._neuron import FormulaNeuronLayer
from .registry import register_layer

declare("torch", "Clip", "ClipParameter", FIELDS)


@register_layer("Clip")
class Clip(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = clip_rule(param)
        self.min, self.max = rule.min, rule.max

    def _fwd(self, x):
        upper = torch.where(x > self.max, torch.full_like(x, self.max), x)   # std::min(x, max)
        return torch.where(upper > self.min, upper, torch.full_like(x, self.min))  # std::max

    def _bwd(self, x, y, dy):
        return dy * ((x >= self.min) & (x <= self.max)).to(dy.dtype)
