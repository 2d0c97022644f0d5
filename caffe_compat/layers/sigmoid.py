"""Sigmoid as Caffe computes it: ``0.5 * tanh(0.5 x) + 0.5`` (in double, stored as float);
backward ``dy * y * (1 - y)`` from the stored output."""
from ..rules.fields import ENGINE_FIELD, declare
from ._neuron import NeuronLayer, caffe_sigmoid, elementwise
from .registry import register_layer

declare("torch", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)


def _bwd(x, y, dy):
    return dy * y * (1 - y)


@register_layer("Sigmoid")
class Sigmoid(NeuronLayer):
    def forward(self, x):
        return elementwise(x, caffe_sigmoid, _bwd)
