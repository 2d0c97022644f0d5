"""ReLU6: ``min(max(x, 0), 6)`` (MobileNet v2 ports; OpenCV 4 dnn's ReLU6Layer with its default
bounds, which a Caffe prototxt cannot change). Backward: autograd."""
import torch

from ..rules.neuron import RELU6_BOUNDS
from .base import Layer
from .registry import register_layer

LOW, HIGH = RELU6_BOUNDS


@register_layer("ReLU6")
class ReLU6(Layer):
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        return torch.clamp(x, LOW, HIGH)

    def forward_inplace(self, x):
        return x.clamp_(LOW, HIGH)
