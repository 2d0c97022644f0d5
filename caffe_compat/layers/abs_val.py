"""AbsVal: ``|x|``; backward ``dy * sign(x)`` with ``sign(0) = 0`` (torch's abs backward)."""
import torch

from ._neuron import NeuronLayer
from .registry import register_layer


@register_layer("AbsVal")
class AbsVal(NeuronLayer):
    def forward(self, x):
        return torch.abs(x)
