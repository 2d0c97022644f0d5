"""Bias: ``top = bottom + b``, ``b`` a learned blob or the second bottom broadcast from
``axis`` (Caffe's BiasLayer, :mod:`caffe_compat.rules.bias`), in float32, in place where Caffe
runs it so. Backward: the bottom's diff is the top's; ``b``'s diff is the top's diff summed
over the axes ``b`` is broadcast along (added into a learned blob's diff, assigned to a second
bottom's)."""
import numpy as np

from ...rules.bias import FIELDS, FILLERS, bias_rule
from ...rules.fields import declare
from ..registry import register
from .base import RuleBlobsLayer, need

# a filler it does not draw (gaussian, msra, ...) leaves the fill to the torch engine
declare("array", "Bias", "BiasParameter", FIELDS, refuses=FILLERS)


def reduce_to(values, view):
    """``values`` summed over the axes where ``view`` is 1, shaped as the operand."""
    axes = tuple(i for i, d in enumerate(view) if d == 1)
    return values.sum(axis=axes, dtype=np.float32) if axes else values


class OperandLayer(RuleBlobsLayer):
    """Bias's and Scale's setup: one top, in place where Caffe runs it so; the operand is the
    second bottom or else the learned blob."""
    in_place = True
    top_of_all = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(param.top) == 1, f"{self.type} of one top")

    def _operand(self, bottoms, params):
        return bottoms[1] if len(bottoms) > 1 else params[0]


@register("Bias")
class Bias(OperandLayer):
    rule_of = staticmethod(bias_rule)

    def forward(self, bottoms, tops, params):
        x, b = bottoms[0], self._operand(bottoms, params)
        np.add(x, b.reshape(self.rule.view(x.shape, b.shape)), out=tops[0])

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        dy = top_diffs[0]
        b = self._operand(bottoms, params)
        view = self.rule.view(dy.shape, b.shape)
        if len(bottoms) > 1:
            if bottom_diffs[1] is not None:
                np.copyto(bottom_diffs[1], reduce_to(dy, view).reshape(b.shape))
        elif param_diffs and param_diffs[0] is not None:
            param_diffs[0] += reduce_to(dy, view).reshape(b.shape)
        if bottom_diffs[0] is not None and bottom_diffs[0] is not dy:
            np.copyto(bottom_diffs[0], dy)
