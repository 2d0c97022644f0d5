"""ReLU: ``max(x, 0) + negative_slope * min(x, 0)`` (Caffe's ReLULayer)."""
import torch
import torch.nn.functional as F

from .base import Layer
from .registry import register_layer


@register_layer("ReLU")
class ReLU(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.slope = float(param.relu_param.negative_slope)

    item_wise = True

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        if self.slope == 0.0:
            return torch.relu(x)
        return F.leaky_relu(x, self.slope)

    def forward_inplace(self, x):
        if self.slope == 0.0:
            return torch.relu_(x)
        return F.leaky_relu_(x, self.slope)
