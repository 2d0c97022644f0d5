"""Dropout in the TEST phase: the top is the bottom (Caffe's DropoutLayer copies it, or leaves
it in place); TRAIN draws a mask and is the torch engine's."""
import numpy as np

from ..registry import register
from .base import ArrayLayer, need


@register("Dropout")
class Dropout(ArrayLayer):
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(phase == "TEST", "Dropout while training")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Dropout of one bottom")

    def forward(self, bottoms, tops, params):
        if tops[0] is not bottoms[0]:
            np.copyto(tops[0], bottoms[0])

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """In TEST, Caffe copies the top diff down."""
        if bottom_diffs[0] is not None and bottom_diffs[0] is not top_diffs[0]:
            np.copyto(bottom_diffs[0], top_diffs[0])
