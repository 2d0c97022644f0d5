"""Exp: ``y = base ^ (shift + scale * x)``, ``base: -1`` (the default) meaning e.

Computed as Caffe does: ``outer * exp(inner * x)`` with ``inner = ln(base) * scale`` and
``outer = base ^ shift`` (``exp(shift)`` for base e, 1 when shift is 0); backward
``dy * y * inner``. ``base`` must be -1 or positive.
"""
import math

import numpy as np
import torch

from ._neuron import NeuronLayer, elementwise, f32
from .registry import register_layer


@register_layer("Exp")
class Exp(NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        ep = param.exp_param
        base, scale, shift = float(ep.base), float(ep.scale), float(ep.shift)
        if base != -1.0 and not base > 0.0:
            self.fail(f"exp_param.base must be strictly positive (or -1 for e), got {base}")
        log_base = 1.0 if base == -1.0 else f32(math.log(base))
        if not math.isfinite(log_base):
            self.fail(f"log(base) is not finite for base {base}")
        self.inner = f32(log_base * scale)
        if shift == 0.0:
            self.outer = 1.0
        else:
            with np.errstate(all="ignore"):
                s32 = np.float32(shift)
                self.outer = float(np.exp(s32) if base == -1.0
                                   else np.power(np.float32(base), s32))

    def _fwd(self, x):
        y = torch.exp(x if self.inner == 1.0 else x * self.inner)
        return y if self.outer == 1.0 else y * self.outer

    def _bwd(self, x, y, dy):
        d = y * dy
        return d if self.inner == 1.0 else d * self.inner

    def forward(self, x):
        return elementwise(x, self._fwd, self._bwd)
