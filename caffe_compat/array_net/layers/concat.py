"""Concat along ``concat_param.axis`` (or the legacy ``concat_dim``), bottoms in order."""
import numpy as np

from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Concat", "ConcatParameter", {"axis", "concat_dim"})


@register("Concat")
class Concat(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        cp = param.concat_param
        need(len(bottom_shapes) >= 1 and len(param.top) == 1, "Concat to one top")
        n = len(bottom_shapes[0])
        axis = cp.concat_dim if cp.HasField("concat_dim") and not cp.HasField("axis") \
            else cp.axis
        need(-n <= axis < n, "Concat axis")
        self.axis = axis + n if axis < 0 else axis
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        first = tuple(bottom_shapes[0])
        for s in bottom_shapes[1:]:
            need(len(s) == len(first) and all(a == b for i, (a, b) in enumerate(zip(s, first))
                                              if i != self.axis), "Concat shapes")
        total = sum(int(s[self.axis]) for s in bottom_shapes)
        return [first[:self.axis] + (total,) + first[self.axis + 1:]]

    def forward(self, bottoms, tops, params):
        if len(bottoms) == 1:
            np.copyto(tops[0], bottoms[0])
            return
        np.concatenate(bottoms, axis=self.axis, out=tops[0])

    def can_backward(self):
        return True

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
