"""Concat (the rule in :mod:`caffe_compat.rules.concat`): ``torch.cat`` of the bottoms."""
import torch

from .base import Layer
from .registry import register_layer
from ..rules.concat import FIELDS, concat_rule
from ..rules.fields import declare

declare("torch", "Concat", "ConcatParameter", FIELDS)


@register_layer("Concat")
class Concat(Layer):
    min_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.rule = concat_rule(param, self.bottom_shapes)
        self.axis = self.rule.axis

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes)]

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return bottoms[0].view_as(bottoms[0])
        return torch.cat(bottoms, dim=self.axis)
