"""Mish: ``x tanh(softplus(x))`` (OpenCV 4's MishLayer; the torch layer's ``F.mish``), in
float32 with a softplus that does not overflow (``logaddexp(0, x)``); backward ``tanh(sp) + x
sigmoid(x) (1 - tanh(sp)^2)`` (torch's formula), which reads the bottom (not in place)."""
import numpy as np

from ..registry import register
from ._neuron import F32, NeuronArrayLayer


def _tanh_softplus(x):
    return np.tanh(np.logaddexp(F32(0), x)).astype(F32, copy=False)


@register("Mish")
class Mish(NeuronArrayLayer):
    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        np.multiply(x, _tanh_softplus(x), out=tops[0])

    def factor(self, x, y):
        t = _tanh_softplus(x)
        with np.errstate(over="ignore"):
            sigmoid = F32(1) / (F32(1) + np.exp(-x))
        return t + x * sigmoid * (F32(1) - t * t)
