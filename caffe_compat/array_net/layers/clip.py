"""Clip (:mod:`caffe_compat.rules.clip`): ``std::max(min, std::min(x, max))`` in float32 (a
NaN input gives ``min``); backward ``dy`` where ``min <= x <= max``, else 0."""
import numpy as np

from ...rules.clip import FIELDS, clip_rule
from ...rules.fields import declare
from ..registry import register
from ._neuron import F32, NeuronArrayLayer

declare("array", "Clip", "ClipParameter", FIELDS)


@register("Clip")
class Clip(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = clip_rule(param)
        self.lo, self.hi = F32(rule.min), F32(rule.max)

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        upper = np.where(x > self.hi, self.hi, x)           # std::min(x, max)
        np.copyto(tops[0], np.where(upper > self.lo, upper, self.lo))   # std::max(min, .)

    def factor(self, x, y):
        return ((x >= self.lo) & (x <= self.hi)).astype(F32)
