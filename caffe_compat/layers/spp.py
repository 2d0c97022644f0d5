"""SPP: spatial pyramid pooling (Caffe's SPPLayer) over a 4-axis bottom: each level an ordinary
Caffe Pooling of the geometry :mod:`caffe_compat.rules.spp` gives for the bottom's size, the
levels flattened and concatenated along axis 1 (with ``pyramid_height: 1`` the single pooling
output unflattened, (N, C, 1, 1), as Caffe)."""
import torch

from .base import Layer
from .pooling import Pooling
from .registry import register_layer
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.spp import FIELDS, spp_rule

declare("torch", "SPP", "SPPParameter", FIELDS, no_effect=ENGINE_FIELD)


@register_layer("SPP")
class SPP(Layer):
    rule_of = staticmethod(spp_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.height, self.method = rule.height, rule.method
        self._levels = {}
        self.top_shapes(self.bottom_shapes)

    def _pools(self, shape):
        shape = tuple(shape)
        pools = self._levels.get(shape[2:])
        if pools is None:
            pools = self._levels[shape[2:]] = [Pooling(lp, [shape], self.phase)
                                               for lp, _ in self.rule.levels(shape)]
        return pools

    def forward(self, x):
        pools = self._pools(tuple(x.shape))
        if self.height == 1:
            return pools[0](x)
        return torch.cat([p(x).reshape(x.shape[0], -1) for p in pools], dim=1)
