"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): the top is a view of the bottom's
data (Caffe's FlattenLayer shares it)."""
import numpy as np

from ...rules.fields import declare
from ...rules.flatten import FIELDS, flatten_rule
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Flatten", "FlattenParameter", FIELDS)


@register("Flatten")
class Flatten(ArrayLayer):
    shares_bottom = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Flatten of one bottom")
        self.rule = flatten_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def shared_tops(self, bottoms):
        return [bottoms[0].reshape(self.top_shapes([bottoms[0].shape])[0])]

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """The top's diff is the bottom's, reshaped (Caffe shares it)."""
        if bottom_diffs[0] is not None:
            np.copyto(bottom_diffs[0], top_diffs[0].reshape(bottom_diffs[0].shape))
