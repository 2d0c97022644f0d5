"""Log: ``y = log_base(shift + scale * x)``, ``base: -1`` (the default) meaning e.

Computed as ``ln(shift + scale x) / ln(base)``; backward ``dy * (scale / ln(base)) /
(shift + scale x)``. ``base`` must be -1 or positive and not 1.
"""
import math

import torch

from ._neuron import NeuronLayer, elementwise, f32
from .registry import register_layer


@register_layer("Log")
class Log(NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        lp = param.log_param
        base = float(lp.base)
        if base != -1.0 and not base > 0.0:
            self.fail(f"log_param.base must be strictly positive (or -1 for e), got {base}")
        log_base = 1.0 if base == -1.0 else f32(math.log(base))
        if not math.isfinite(log_base) or log_base == 0.0:
            self.fail(f"1 / log(base) is not finite for base {base}")
        self.base_scale = f32(1.0 / log_base)
        self.scale = float(lp.scale)
        self.shift = float(lp.shift)
        self.backward_scale = f32(self.scale / log_base)

    def _inner(self, x):
        t = x
        if self.scale != 1.0:
            t = t * self.scale
        if self.shift != 0.0:
            t = t + self.shift
        return t

    def _fwd(self, x):
        y = torch.log(self._inner(x))
        return y if self.base_scale == 1.0 else y * self.base_scale

    def _bwd(self, x, y, dy):
        d = torch.reciprocal(self._inner(x))
        if self.backward_scale != 1.0:
            d = d * self.backward_scale
        return dy * d

    def forward(self, x):
        return elementwise(x, self._fwd, self._bwd)
