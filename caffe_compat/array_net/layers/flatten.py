"""Flatten: axes ``axis`` to ``end_axis`` as one; the top is a view of the bottom's data
(Caffe's FlattenLayer shares it)."""
import math

import numpy as np

from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Flatten", "FlattenParameter", {"axis", "end_axis"})


@register("Flatten")
class Flatten(ArrayLayer):
    shares_bottom = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) == 1, "Flatten of one bottom")
        need(param.top[0] != param.bottom[0], "Flatten in place")
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        fp = self.param.flatten_param
        n = len(shape)
        start = fp.axis + n if fp.axis < 0 else fp.axis
        end = fp.end_axis + n if fp.end_axis < 0 else fp.end_axis
        need(0 <= start <= end < n, f"Flatten axes {fp.axis}..{fp.end_axis} of {shape}")
        return [shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]]

    def shared_tops(self, bottoms):
        return [bottoms[0].reshape(self.top_shapes([bottoms[0].shape])[0])]

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """The top's diff is the bottom's, reshaped (Caffe shares it)."""
        if bottom_diffs[0] is not None:
            np.copyto(bottom_diffs[0], top_diffs[0].reshape(bottom_diffs[0].shape))
