"""Dropout in the TEST phase: the top is the bottom (Caffe's DropoutLayer copies it, or leaves
it in place), or with ``scale_train: false`` (OpenCV's fork) the bottom times
``1 - dropout_ratio``, as the torch engine's layer computes it; TRAIN draws a mask and is the
torch engine's."""
import numpy as np

from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Dropout", "DropoutParameter", {"dropout_ratio", "scale_train"})


@register("Dropout")
class Dropout(ArrayLayer):
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(phase == "TEST", "Dropout while training")
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Dropout of one bottom")
        dp = param.dropout_param
        ratio = float(dp.dropout_ratio)
        need(0.0 <= ratio < 1.0, f"layer '{self.name}': Dropout dropout_ratio {ratio}")
        self.scale = None if dp.scale_train or ratio == 0.0 else np.float32(1.0 - ratio)

    def forward(self, bottoms, tops, params):
        if self.scale is not None:
            np.multiply(bottoms[0], self.scale, out=tops[0])
        elif tops[0] is not bottoms[0]:
            np.copyto(tops[0], bottoms[0])

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """In TEST, Caffe copies the top diff down (times the TEST scale where there is one)."""
        dx = bottom_diffs[0]
        if dx is None:
            return
        if self.scale is not None:
            np.multiply(top_diffs[0], self.scale, out=dx)
        elif dx is not top_diffs[0]:
            np.copyto(dx, top_diffs[0])
