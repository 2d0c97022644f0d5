"""Permute (SSD): reorder the axes; ``order`` lists the source axis of each output axis.

As SSD's Caffe: axes missing from ``order`` follow in their original order (OpenCV's dnn wants
all of them); an axis out of range or given twice is an error. Backward: autograd.
"""
from ..rules.fields import declare
from ..rules.permute import FIELDS, permute_rule
from .base import Layer
from .registry import register_layer

declare("torch", "Permute", "PermuteParameter", FIELDS)


@register_layer("Permute")
class Permute(Layer):
    rule_of = staticmethod(permute_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.order = list(self.rule.order)

    def per_item(self):
        return self.order[0] == 0

    def forward(self, x):
        return x.permute(self.order).contiguous()
