"""Threshold: ``1 if x > threshold else 0`` (strictly greater: a value equal to the threshold
gives 0). Caffe implements no backward for it, so the top carries no gradient."""
from ._neuron import NeuronLayer, NoBackwardLayer
from .registry import register_layer


@register_layer("Threshold")
class Threshold(NoBackwardLayer, NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = float(param.threshold_param.threshold)

    def forward(self, x):
        return (x.detach() > self.threshold).to(x.dtype)
