"""Softmax over ``softmax_param.axis`` (Caffe's SoftmaxLayer::Forward_cpu): the channel
maximum subtracted, ``exp``, divided by the channel sum, in float32. Backward:
``(dy - sum(dy * y)) * y`` over the same axis."""
import numpy as np

from ...rules.fields import ENGINE_FIELD, declare
from ...rules.softmax import FIELDS, softmax_axis
from ..registry import register
from .base import BottomDiffLayer

declare("array", "Softmax", "SoftmaxParameter", FIELDS, no_effect=ENGINE_FIELD)


def softmax_into(x, y, axis):
    """``y`` = Caffe's softmax of ``x`` over ``axis`` in float32 (``y`` may be ``x``)."""
    top = np.max(x, axis=axis, keepdims=True)
    np.subtract(x, top, out=y)
    np.exp(y, out=y)
    y /= np.sum(y, axis=axis, keepdims=True)


@register("Softmax")
class Softmax(BottomDiffLayer):
    one_bottom = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.axis = softmax_axis(param, bottom_shapes[0])

    def forward(self, bottoms, tops, params):
        softmax_into(bottoms[0], tops[0], self.axis)

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        y, dy = tops[0], top_diffs[0]
        dot = np.sum(dy * y, axis=self.axis, keepdims=True, dtype=np.float32)
        np.subtract(dy, dot, out=dx)
        dx *= y
