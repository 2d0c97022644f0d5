"""Split: every top is its bottom's data (Caffe's SplitLayer shares the bottom's memory); the
bottom diff is the first top's diff plus the others in order (``caffe_add``, then ``axpy``)."""
import numpy as np

from ..registry import register
from .base import BottomDiffLayer, need


@register("Split")
class Split(BottomDiffLayer):
    shares_bottom = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) >= 1, "Split of one bottom")

    def top_shapes(self, bottom_shapes):
        return [tuple(bottom_shapes[0])] * len(self.param.top)

    def shared_tops(self, bottoms):
        """The tops as the arrays they are: the bottom itself, once per top."""
        return [bottoms[0]] * len(self.param.top)

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        np.copyto(dx, top_diffs[0])
        for d in top_diffs[1:]:
            dx += d
