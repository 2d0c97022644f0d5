"""Mish: ``x * tanh(softplus(x))`` (YOLOv4 ports; OpenCV 4 dnn's MishLayer). Backward: autograd."""
import torch.nn.functional as F

from ._neuron import NeuronLayer
from .registry import register_layer


@register_layer("Mish")
class Mish(NeuronLayer):
    def forward(self, x):
        return F.mish(x)
