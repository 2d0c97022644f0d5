"""Swish: ``x * sigmoid(beta x)`` (``beta`` default 1) with Caffe's sigmoid, ``0.5 tanh(0.5 t) +
0.5`` in double rounded to float32, as the torch layer; backward Caffe's ``dy (beta y + s (1 -
beta y))`` with ``s = sigmoid(beta x)``, which reads the bottom (not in place)."""
import numpy as np

from ...rules.fields import declare
from ...rules.swish import FIELDS, swish_rule
from ..registry import register
from ._neuron import F32, NeuronArrayLayer, caffe_sigmoid

declare("array", "Swish", "SwishParameter", FIELDS)


@register("Swish")
class Swish(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.beta = F32(swish_rule(param).beta)

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        np.multiply(x, caffe_sigmoid(x * self.beta), out=tops[0])

    def factor(self, x, y):
        s = caffe_sigmoid(x * self.beta)
        by = self.beta * y
        return by + s * (F32(1) - by)
