"""Scale: ``top = bottom * s (+ b)``, ``s`` a learned blob or the second bottom broadcast from
``axis``, ``b`` the learned bias of ``bias_term`` (Caffe's ScaleLayer,
:mod:`caffe_compat.rules.scale`), in float32: the product, then the bias added. In place where
Caffe runs it so (the bottom is kept for backward, as Caffe's ``temp_``). Backward: ``dx = dy
s``; ``s``'s diff sums ``dy x`` over the broadcast axes (added into a learned blob's diff,
assigned to a second bottom's); the bias's diff adds ``dy`` summed likewise."""
import numpy as np

from ...data.filler_rules import as_fillers
from ...rules import scale as scale_rules
from ...rules.fields import declare
from ...rules.scale import scale_rule
from ..registry import register
from .base import ArrayLayer, need
from .bias import reduce_to

# a filler it does not draw (gaussian, msra, ...) leaves the fill to the torch engine
declare("array", "Scale", "ScaleParameter", scale_rules.FIELDS, refuses=scale_rules.FILLERS)


@register("Scale")
class Scale(ArrayLayer):
    in_place = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(param.top) == 1, "Scale of one top")
        self.rule = scale_rule(param, bottom_shapes)
        self._saved = None          # the bottom of an in-place forward

    def param_shapes(self):
        return self.rule.param_shapes()

    def filler_params(self):
        return as_fillers(self.rule.fillers())

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes)]

    def _scale(self, bottoms, params):
        return bottoms[1] if len(bottoms) > 1 else params[0]

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        self._saved = x.copy() if x is y else None
        s = self._scale(bottoms, params)
        np.multiply(x, s.reshape(self.rule.scale_view(x.shape, s.shape)), out=y)
        if self.rule.bias_term:
            y += params[-1].reshape(self.rule.bias_view(x.shape))

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x = self._saved if bottoms[0] is tops[0] and self._saved is not None else bottoms[0]
        dy = top_diffs[0]
        s = self._scale(bottoms, params)
        view = self.rule.scale_view(x.shape, s.shape)
        learned = self.rule.learned is not None
        if self.rule.bias_term and param_diffs[-1] is not None:
            param_diffs[-1] += reduce_to(dy, self.rule.bias_view(x.shape)).reshape(
                self.rule.bias)
        if learned and param_diffs[0] is not None:
            param_diffs[0] += reduce_to(dy * x, view).reshape(s.shape)
        elif not learned and bottom_diffs[1] is not None:
            np.copyto(bottom_diffs[1], reduce_to(dy * x, view).reshape(s.shape))
        if bottom_diffs[0] is not None:
            np.multiply(dy, s.reshape(view), out=bottom_diffs[0])
