"""Clip: ``max(min, min(x, max))`` with Caffe's std::min/std::max semantics, so a NaN input
becomes ``min`` (torch.clamp would keep NaN). Backward passes ``dy`` where
``min <= x <= max`` (both bounds included) and 0 elsewhere. Both bounds are required;
``min > max`` is rejected here (Caffe would silently output ``min`` everywhere)."""
import torch

from ._neuron import NeuronLayer, elementwise
from .registry import register_layer


@register_layer("Clip")
class Clip(NeuronLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        cp = param.clip_param
        if not (param.HasField("clip_param") and cp.HasField("min") and cp.HasField("max")):
            self.fail("clip_param { min: ... max: ... } is required (both bounds)")
        self.min = float(cp.min)
        self.max = float(cp.max)
        if self.min > self.max:
            self.fail(f"clip_param min ({self.min}) must not exceed max ({self.max})")

    def _fwd(self, x):
        upper = torch.where(x > self.max, torch.full_like(x, self.max), x)   # std::min(x, max)
        return torch.where(upper > self.min, upper, torch.full_like(x, self.min))  # std::max

    def _bwd(self, x, y, dy):
        return dy * ((x >= self.min) & (x <= self.max)).to(dy.dtype)

    def forward(self, x):
        return elementwise(x, self._fwd, self._bwd)
