"""Softmax over ``softmax_param.axis`` (default 1): ``exp(x - max) / sum(exp(x - max))``, on
one thread (:mod:`caffe_compat.kernels.fixed_order`: the same bits at any thread count)."""
from ..kernels.fixed_order import softmax
from .base import Layer
from .registry import register_layer
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.softmax import FIELDS, softmax_axis

declare("torch", "Softmax", "SoftmaxParameter", FIELDS,
        no_effect=ENGINE_FIELD)


@register_layer("Softmax")
class Softmax(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.axis = softmax_axis(param, self.bottom_shapes[0])

    item_wise = property(lambda self: self.axis >= 1)

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        return softmax(x, self.axis)
