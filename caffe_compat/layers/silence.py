"""Silence: consumes its bottoms and produces nothing (Caffe's SilenceLayer)."""
from .base import Layer
from .registry import register_layer


@register_layer("Silence")
class Silence(Layer):
    item_wise = True
    min_bottoms = 1
    exact_tops = 0

    def top_shapes(self, bottom_shapes):
        return []

    def forward(self, *bottoms):
        return ()
