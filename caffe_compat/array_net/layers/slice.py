"""Slice: the bottom cut along one axis into the tops (Caffe's SliceLayer,
:mod:`caffe_compat.rules.slice`); backward copies each top's diff into its part of the
bottom's diff."""
import numpy as np

from ...rules.fields import declare
from ...rules.slice import FIELDS, slice_rule
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "Slice", "SliceParameter", FIELDS)


@register("Slice")
class Slice(BottomDiffLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 1 and len(param.top) >= 1, "Slice of one bottom")
        self.rule = slice_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return self.rule.top_shapes(bottom_shapes[0])

    def _parts(self, x):
        a = self.rule.axis
        lead = (slice(None),) * a
        return [lead + (slice(lo, hi),) for lo, hi in self.rule.offsets(x.shape[a])]

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        for top, part in zip(tops, self._parts(x)):
            np.copyto(top, x[part])

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        for dy, part in zip(top_diffs, self._parts(dx)):
            np.copyto(dx[part], dy)
