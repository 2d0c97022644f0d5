"""Axpy (SENet Caffe ports; the rule in :mod:`caffe_compat.rules.axpy`): ``a * X + Y`` on
torch. Backward: autograd.
"""
from .base import Layer
from .registry import register_layer
from ..rules.axpy import axpy_top_shape


@register_layer("Axpy")
class Axpy(Layer):
    exact_bottoms = 3
    exact_tops = 1
    item_wise = True
    shapes_at_setup = True

    def top_shapes(self, bottom_shapes):
        return [axpy_top_shape(self.param, bottom_shapes)]

    def forward(self, a, x, y):
        return a.reshape(a.shape[:2] + (1,) * (x.dim() - 2)) * x + y
