"""Concat (the rule in :mod:`caffe_compat.rules.concat`): the bottoms in order along its axis."""
import numpy as np

from ...rules.concat import FIELDS, concat_rule
from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Concat", "ConcatParameter", FIELDS)


@register("Concat")
class Concat(ArrayLayer):
    rule_of = staticmethod(concat_rule)
    top_of_all = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) >= 1 and len(param.top) == 1, "Concat to one top")
        self.axis = self.rule.axis

    def forward(self, bottoms, tops, params):
        np.concatenate(bottoms, axis=self.axis, out=tops[0])

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """Each bottom's diff is its slice of the top diff."""
        dy = top_diffs[0]
        start = 0
        for b, dx in zip(bottoms, bottom_diffs):
            size = b.shape[self.axis]
            if dx is not None:
                index = (slice(None),) * self.axis + (slice(start, start + size),)
                np.copyto(dx, dy[index])
            start += size
