"""Crop (:mod:`caffe_compat.rules.crop`): bottom 0's window copied to the top; backward: the
top's diff into that window of bottom 0's diff, zeros elsewhere (bottom 1 gives only the
shape: Caffe leaves its diff as it is)."""
import numpy as np

from ...rules.crop import FIELDS, crop_rule
from ...rules.fields import declare
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "Crop", "CropParameter", FIELDS)


@register("Crop")
class Crop(BottomDiffLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 2 and len(param.top) == 1, "Crop of two bottoms")
        self.rule = crop_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        self.rule = crop_rule(self.param, bottom_shapes)
        return [self.rule.shape]

    def forward(self, bottoms, tops, params):
        np.copyto(tops[0], bottoms[0][self.rule.window()])

    def allow_force_backward(self, j):
        return j == 0

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        dx[...] = 0
        dx[self.rule.window()] = top_diffs[0]
