"""Dropout in the TEST phase (the rule in :mod:`caffe_compat.rules.dropout`): the top is the
bottom (Caffe's DropoutLayer copies it, or leaves it in place), or the bottom times the rule's
TEST factor; TRAIN draws a mask and is the torch engine's."""
import numpy as np

from ...rules.dropout import FIELDS, dropout_rule
from ...rules.fields import declare
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "Dropout", "DropoutParameter", FIELDS)


@register("Dropout")
class Dropout(BottomDiffLayer):
    one_bottom = True
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(phase == "TEST", "Dropout while training")
        scale = dropout_rule(param).test_scale()
        self.scale = None if scale is None else np.float32(scale)

    def forward(self, bottoms, tops, params):
        if self.scale is not None:
            np.multiply(bottoms[0], self.scale, out=tops[0])
        elif tops[0] is not bottoms[0]:
            np.copyto(tops[0], bottoms[0])

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        """In TEST, Caffe copies the top diff down (times the TEST scale where there is one)."""
        if self.scale is not None:
            np.multiply(top_diffs[0], self.scale, out=dx)
        elif dx is not top_diffs[0]:
            np.copyto(dx, top_diffs[0])
