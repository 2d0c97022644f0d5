"""Sigmoid, TanH, AbsVal, BNLL and ReLU6 (:mod:`caffe_compat.rules.neuron`): each Caffe's
Forward_cpu and Backward_cpu element by element in float32; the double-precision steps where
Caffe's code takes them (Sigmoid's ``0.5 * tanh(0.5 * x) + 0.5``, BNLL's ``log(1. + ...)``)."""
import numpy as np

from ...rules.fields import ENGINE_FIELD, declare
from ...rules.neuron import BNLL_THRESHOLD, RELU6_BOUNDS, neuron_rule
from ..registry import register
from ._neuron import F32, NeuronArrayLayer, caffe_sigmoid

declare("array", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("array", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)


class _Plain(NeuronArrayLayer):
    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.rule = neuron_rule(param, bottom_shapes)

    def top_shapes(self, bottom_shapes):
        return [self.rule.top_shape(bottom_shapes[0])]


@register("Sigmoid")
class Sigmoid(_Plain):
    backward_from_top = True

    def forward(self, bottoms, tops, params):
        np.copyto(tops[0], caffe_sigmoid(bottoms[0]))

    def factor(self, x, y):
        """``y (1 - y)``."""
        return y * (F32(1) - y)


@register("TanH")
class TanH(_Plain):
    backward_from_top = True

    def forward(self, bottoms, tops, params):
        np.tanh(bottoms[0], out=tops[0])

    def factor(self, x, y):
        """``1 - y^2``."""
        return F32(1) - y * y


@register("AbsVal")
class AbsVal(_Plain):
    def forward(self, bottoms, tops, params):
        np.abs(bottoms[0], out=tops[0])

    def factor(self, x, y):
        """Caffe's caffe_cpu_sign: 1, -1, or 0 at 0."""
        return np.sign(x)


@register("BNLL")
class BNLL(_Plain):
    def forward(self, bottoms, tops, params):
        x = bottoms[0].astype(np.float64)
        with np.errstate(over="ignore"):
            tail = np.log(1.0 + np.exp(-np.abs(x)))   # both branches: log(1 + exp(-|x|))
        np.copyto(tops[0], np.maximum(x, 0.0) + tail, casting="same_kind")

    def factor(self, x, y):
        """``e / (e + 1.)`` with ``e = exp(min(x, 50))`` (float, the division in double)."""
        e = np.exp(np.minimum(x, F32(BNLL_THRESHOLD))).astype(np.float64)
        return (e / (e + 1.0)).astype(F32)


@register("ReLU6")
class ReLU6(_Plain):
    def forward(self, bottoms, tops, params):
        lo, hi = RELU6_BOUNDS
        np.clip(bottoms[0], F32(lo), F32(hi), out=tops[0])

    def factor(self, x, y):
        """``dy`` where ``0 <= x <= 6`` (the bounds included), else 0."""
        lo, hi = RELU6_BOUNDS
        return ((x >= F32(lo)) & (x <= F32(hi))).astype(F32)
