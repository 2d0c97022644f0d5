"""Threshold (:mod:`caffe_compat.rules.threshold`): ``1`` where ``x > threshold``, else
``0``. Caffe has no Backward_cpu for it (NOT_IMPLEMENTED): no gradient passes through it, as
in the torch engine: force_backward does not reach its bottom, and where its bottom needs a
diff (a layer with parameters below it) that diff is 0."""
import numpy as np

from ...rules.fields import declare
from ...rules.threshold import FIELDS, threshold_rule
from ..registry import register
from ._neuron import F32, NeuronArrayLayer

declare("array", "Threshold", "ThresholdParameter", FIELDS)


@register("Threshold")
class Threshold(NeuronArrayLayer):
    backward_from_top = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = F32(threshold_rule(param).threshold)

    def forward(self, bottoms, tops, params):
        np.greater(bottoms[0], self.threshold, out=tops[0], casting="unsafe")

    def allow_force_backward(self, j):
        return False

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """No gradient: the bottom's diff, where one is asked for, is 0."""
        if bottom_diffs[0] is not None:
            bottom_diffs[0][...] = 0
