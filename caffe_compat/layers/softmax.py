"""Softmax over ``softmax_param.axis`` (default 1): ``exp(x - max) / sum(exp(x - max))``."""
import torch

from .base import Layer, canonical_axis
from .registry import register_layer


@register_layer("Softmax")
class Softmax(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.axis = canonical_axis(param.softmax_param.axis, len(self.bottom_shapes[0]),
                                   self.name)

    def per_item(self):
        return self.axis >= 1

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        return torch.softmax(x, dim=self.axis)
