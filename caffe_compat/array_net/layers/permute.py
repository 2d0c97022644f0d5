"""Permute (:mod:`caffe_compat.rules.permute`): the bottom's axes in the rule's order, copied;
backward: the top's diff in the inverse order."""
import numpy as np

from ...rules.fields import declare
from ...rules.permute import FIELDS, permute_rule
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Permute", "PermuteParameter", FIELDS)


@register("Permute")
class Permute(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Permute of one bottom")
        self.rule = permute_rule(param, bottom_shapes)
        self.inverse = tuple(int(a) for a in np.argsort(self.rule.order))

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]

    def forward(self, bottoms, tops, params):
        np.copyto(tops[0], bottoms[0].transpose(self.rule.order))

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        if bottom_diffs[0] is not None:
            np.copyto(bottom_diffs[0], top_diffs[0].transpose(self.inverse))
