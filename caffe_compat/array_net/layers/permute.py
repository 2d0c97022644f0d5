"""Permute (:mod:`caffe_compat.rules.permute`): the bottom's axes in the rule's order, copied;
backward: the top's diff in the inverse order."""
import numpy as np

from ...rules.fields import declare
from ...rules.permute import FIELDS, permute_rule
from ..registry import register
from .base import BottomDiffLayer

declare("array", "Permute", "PermuteParameter", FIELDS)


@register("Permute")
class Permute(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(permute_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.inverse = tuple(int(a) for a in np.argsort(self.rule.order))

    def forward(self, bottoms, tops, params):
        np.copyto(tops[0], bottoms[0].transpose(self.rule.order))

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        np.copyto(dx, top_diffs[0].transpose(self.inverse))
