"""Swish: ``y = x * sigmoid(beta * x)`` (Caffe's sigmoid, see sigmoid.py).

Backward is Caffe's ``dy * (beta * y + s * (1 - beta * y))`` with ``s = sigmoid(beta * x)``.
"""
from ._neuron import FormulaNeuronLayer, caffe_sigmoid
from .registry import register_layer
from ..rules.fields import declare
from ..rules.swish import FIELDS, swish_rule

declare("torch", "Swish", "SwishParameter", FIELDS)


@register_layer("Swish")
class Swish(FormulaNeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.beta = swish_rule(param).beta

    def _fwd(self, x):
        return x * caffe_sigmoid(x * self.beta)

    def _bwd(self, x, y, dy):
        s = caffe_sigmoid(x * self.beta)
        by = self.beta * y
        return dy * (by + s * (1 - by))
