"""TanH: ``tanh(x)``; backward ``dy * (1 - y^2)`` (what torch's tanh backward computes)."""
import torch

from ..rules.fields import ENGINE_FIELD, declare
from ._neuron import NeuronLayer
from .registry import register_layer

declare("torch", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)


@register_layer("TanH")
class TanH(NeuronLayer):
    def forward(self, x):
        return torch.tanh(x)
