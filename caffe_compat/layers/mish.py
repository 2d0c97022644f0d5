"""Mish: ``x * tanh(softplus(x))`` (YOLOv4 ports; OpenCV 4 dnn's MishLayer). Backward: autograd."""
import torch.nn.functional as F

from .base import Layer
from .registry import register_layer


@register_layer("Mish")
class Mish(Layer):
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]]

    def forward(self, x):
        return F.mish(x)
