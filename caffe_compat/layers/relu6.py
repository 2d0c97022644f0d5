"""ReLU6: ``min(max(x, 0), 6)`` (MobileNet v2 ports; OpenCV 4 dnn's ReLU6Layer with its default
bounds, which a Caffe prototxt cannot change). Backward: autograd."""
import torch

from ..rules.neuron import RELU6_BOUNDS
from ._neuron import NeuronLayer
from .registry import register_layer

LOW, HIGH = RELU6_BOUNDS


@register_layer("ReLU6")
class ReLU6(NeuronLayer):
    def forward(self, x):
        return torch.clamp(x, LOW, HIGH)

    def forward_inplace(self, x):
        return x.clamp_(LOW, HIGH)
