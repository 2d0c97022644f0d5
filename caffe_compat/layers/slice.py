"""Slice: one bottom cut along ``slice_param.axis`` (default 1) into the tops.

``slice_point`` lists the (strictly increasing) cut positions, one fewer than the tops; without
points the axis is split into equal parts and must divide evenly by the number of tops. The legacy
``slice_dim`` is an alias of a non-negative axis; giving both is an error, as in Caffe.
"""
from ..rules.fields import declare
from ..rules.slice import FIELDS, slice_rule
from .base import Layer
from .registry import register_layer


declare("torch", "Slice", "SliceParameter", FIELDS)


@register_layer("Slice")
class Slice(Layer):
    exact_bottoms = 1
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.rule = slice_rule(param, self.bottom_shapes)
        self.axis = self.rule.axis
        self.points = list(self.rule.points)

    def sizes(self, length):
        """Sizes of the slices of an axis of ``length`` (Caffe's Reshape rules)."""
        return self.rule.sizes(length)

    def top_shapes(self, bottom_shapes):
        return self.rule.top_shapes(bottom_shapes[0])

    def forward(self, x):
        parts = x.split(self.sizes(x.shape[self.axis]), dim=self.axis)
        return parts[0] if len(parts) == 1 else tuple(parts)
