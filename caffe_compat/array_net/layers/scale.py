"""Scale: ``top = bottom * s (+ b)``, ``s`` a learned blob or the second bottom broadcast from
``axis``, ``b`` the learned bias of ``bias_term`` (Caffe's ScaleLayer,
:mod:`caffe_compat.rules.scale`), in float32: the product, then the bias added. In place where
Caffe runs it so (the bottom is kept for backward, as Caffe's ``temp_``). Backward: ``dx = dy
s``; ``s``'s diff sums ``dy x`` over the broadcast axes (added into a learned blob's diff,
assigned to a second bottom's); the bias's diff adds ``dy`` summed likewise."""
import numpy as np

from ...rules.fields import declare
from ...rules.scale import FIELDS, FILLERS, scale_rule
from ..registry import register
from .bias import OperandLayer, reduce_to

# a filler it does not draw (gaussian, msra, ...) leaves the fill to the torch engine
declare("array", "Scale", "ScaleParameter", FIELDS, refuses=FILLERS)


@register("Scale")
class Scale(OperandLayer):
    rule_of = staticmethod(scale_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self._saved = None          # the bottom of an in-place forward

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        self._saved = x.copy() if x is y else None
        s = self._operand(bottoms, params)
        np.multiply(x, s.reshape(self.rule.scale_view(x.shape, s.shape)), out=y)
        if self.rule.bias_term:
            y += params[-1].reshape(self.rule.bias_view(x.shape))

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        x = self._saved if bottoms[0] is tops[0] and self._saved is not None else bottoms[0]
        dy = top_diffs[0]
        s = self._operand(bottoms, params)
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
