"""ReLU6: ``min(max(x, 0), 6)`` (MobileNet v2 ports; OpenCV 4 dnn's ReLU6Layer with its default
bounds, which a Caffe prototxt cannot change). Backward: autograd."""
import torch

from .base import Layer
from .registry import register_layer


@register_layer("ReLU6")
class ReLU6(Layer):
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        return torch.clamp(x, 0.0, 6.0)

    def forward_inplace(self, x):
        return x.clamp_(0.0, 6.0)
