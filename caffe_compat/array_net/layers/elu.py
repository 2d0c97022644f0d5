"""ELU (:mod:`caffe_compat.rules.elu`): ``max(x, 0) + alpha (exp(min(x, 0)) - 1)`` in float32
(exp minus one, as Caffe); backward ``dy ((x > 0) + (alpha + y) (x <= 0))``, which in place
reads the signs from the top (the same as the bottom's for ``alpha >= 0``)."""
import numpy as np

from ...rules.elu import FIELDS, elu_rule
from ...rules.fields import declare
from ..registry import register
from ._neuron import F32, NeuronArrayLayer

declare("array", "ELU", "ELUParameter", FIELDS)


@register("ELU")
class ELU(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.alpha = F32(elu_rule(param).alpha)
        self.backward_from_top = bool(self.alpha >= 0)

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        low = np.exp(np.minimum(x, F32(0)))
        low -= F32(1)
        low *= self.alpha
        np.maximum(x, F32(0), out=y)
        y += low

    def factor(self, x, y):
        return np.where(x > 0, F32(1), self.alpha + y).astype(F32)
