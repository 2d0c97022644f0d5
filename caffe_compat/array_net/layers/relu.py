"""ReLU: ``max(x, 0) + negative_slope * min(x, 0)`` (Caffe's ReLULayer::Forward_cpu, in
float32), in place where Caffe runs it so."""
import numpy as np

from ...rules.fields import ENGINE_FIELD, declare
from ...rules.relu import FIELDS, relu_slope
from ..registry import register
from .base import BottomDiffLayer

declare("array", "ReLU", "ReLUParameter", FIELDS, no_effect=ENGINE_FIELD)


@register("ReLU")
class ReLU(BottomDiffLayer):
    one_bottom = True
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.slope = np.float32(relu_slope(param))

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        if self.slope == 0:
            np.maximum(x, np.float32(0), out=y)
            return
        low = np.minimum(x, np.float32(0))
        low *= self.slope
        np.maximum(x, np.float32(0), out=y)
        y += low

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        """``dx = dy * ((x > 0) + negative_slope * (x <= 0))`` on the bottom's data as it is
        (after an in-place forward, the top's: the same signs)."""
        x, dy = bottoms[0], top_diffs[0]
        if self.slope == 0:
            np.multiply(dy, x > 0, out=dx)
            return
        factor = (x > 0).astype(np.float32)
        factor += self.slope * (x <= 0).astype(np.float32)
        np.multiply(dy, factor, out=dx)
