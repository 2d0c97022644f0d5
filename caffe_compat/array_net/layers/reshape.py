"""Reshape (:mod:`caffe_compat.rules.reshape`): the top is a view of the bottom's data with the
rule's shape (Caffe's ReshapeLayer shares it); backward: the top's diff, reshaped."""
import numpy as np

from ...rules.fields import declare
from ...rules.reshape import FIELDS, reshape_rule
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Reshape", "ReshapeParameter", FIELDS)


@register("Reshape")
class Reshape(ArrayLayer):
    shares_bottom = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Reshape of one bottom")
        self.rule = reshape_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def shared_tops(self, bottoms):
        return [bottoms[0].reshape(self.rule.top_shape(bottoms[0].shape))]

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        if bottom_diffs[0] is not None:
            np.copyto(bottom_diffs[0], top_diffs[0].reshape(bottom_diffs[0].shape))
