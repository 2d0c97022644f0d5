"""Crop: bottom 0 cut to the shape of bottom 1 on every axis from ``crop_param.axis`` (default 2)
on, starting at ``offset`` (none: 0; one value: the same for every cropped axis; otherwise one
value per cropped axis).

Caffe 1.0's checks (``CropLayer::Reshape``): on every cropped axis (``axis`` on), bottom 0's
size minus the offset must be at least bottom 1's size; the axes before ``axis`` keep bottom 0's
sizes whatever bottom 1's are (a 1-channel map cropped against a 3-channel image with ``axis:
2`` runs; OpenCV 4 checks the same). Only bottom 0 receives a gradient (zero outside
the window); bottom 1 only gives the shape and gets none.
"""
from ..rules.crop import FIELDS, crop_rule
from ..rules.fields import declare
from .base import Layer
from .registry import register_layer

declare("torch", "Crop", "CropParameter", FIELDS)


@register_layer("Crop")
class Crop(Layer):
    exact_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes(self.bottom_shapes)

    def _window(self, shape, ref):
        rule = crop_rule(self.param, [shape, ref])
        return list(rule.starts), list(rule.shape)

    def top_shapes(self, bottom_shapes):
        return [tuple(self._window(bottom_shapes[0], bottom_shapes[1])[1])]

    def forward(self, x, ref):
        starts, sizes = self._window(tuple(x.shape), tuple(ref.shape))
        return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]
