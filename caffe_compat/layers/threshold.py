"""Threshold: ``1 if x > threshold else 0`` (strictly greater: a value equal to the threshold
gives 0). Caffe implements no backward for it, so the top carries no gradient."""
from ..rules.fields import declare
from ..rules.threshold import FIELDS, threshold_rule
from ._neuron import NeuronLayer, NoBackwardLayer
from .registry import register_layer

declare("torch", "Threshold", "ThresholdParameter", FIELDS)


@register_layer("Threshold")
class Threshold(NoBackwardLayer, NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = threshold_rule(param).threshold

    def forward(self, x):
        return (x.detach() > self.threshold).to(x.dtype)
