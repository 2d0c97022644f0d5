"""Reshape: a new shape for the same data (Caffe's ReshapeLayer).

``reshape_param.shape`` replaces the bottom axes ``[axis, axis + num_axes)`` (``axis`` default 0,
negative values count from the end with -1 meaning "after the last axis"; ``num_axes`` default -1
= to the end). In ``shape`` a 0 copies the bottom dimension at the same position (``axis + i``)
and a single -1 is inferred from the element count. An empty ``shape`` over the whole blob gives
a 0-d blob. In-place use is an error, as in Caffe.
"""
from ..rules.fields import declare
from ..rules.reshape import FIELDS, reshape_rule
from .flatten import Flatten
from .registry import register_layer

declare("torch", "Reshape", "ReshapeParameter", FIELDS)


@register_layer("Reshape")
class Reshape(Flatten):
    rule_of = staticmethod(reshape_rule)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.dims = list(self.rule.dims)        # read by the exports
