"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): a reshape of the bottom."""
from .base import Layer
from .registry import register_layer
from ..rules import flatten as flatten_rule_module
from ..rules.fields import declare
from ..rules.flatten import flatten_rule

declare("torch", "Flatten", "FlattenParameter", flatten_rule_module.FIELDS)


@register_layer("Flatten")
class Flatten(Layer):
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.rule = flatten_rule(param, self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self._shape(tuple(bottom_shapes[0]))]

    def _shape(self, shape):
        return self.rule.top_shape(shape)

    def forward(self, x):
        return x.reshape(self._shape(tuple(x.shape)))
