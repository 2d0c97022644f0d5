"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): a reshape of the bottom."""
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.flatten import FIELDS, flatten_rule

declare("torch", "Flatten", "FlattenParameter", FIELDS)


@register_layer("Flatten")
class Flatten(Layer):
    """The top is the bottom reshaped to the rule's ``top_shape`` (Reshape's too)."""
    rule_of = staticmethod(flatten_rule)
    exact_bottoms = 1
    exact_tops = 1

    def forward(self, x):
        return x.reshape(self.rule.top_shape(tuple(x.shape)))
