"""ShuffleChannel (:mod:`caffe_compat.rules.shuffle_channel`): the channels as (group, C /
group) transposed; backward: the inverse shuffle of the top's diff."""
import numpy as np

from ...rules.fields import declare
from ...rules.shuffle_channel import FIELDS, shuffle_channel_rule
from ..registry import register
from .base import BottomDiffLayer, need

declare("array", "ShuffleChannel", "ShuffleChannelParameter", FIELDS)


@register("ShuffleChannel")
class ShuffleChannel(BottomDiffLayer):
    one_bottom = True
    rule_of = staticmethod(shuffle_channel_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(param.top[0] != param.bottom[0], "ShuffleChannel in place")

    def forward(self, bottoms, tops, params):
        x = bottoms[0]
        np.copyto(tops[0].reshape(self._swapped(x.shape)),
                  x.reshape(self.rule.grouped(x.shape)).swapaxes(1, 2))

    def _swapped(self, shape):
        g = self.rule.grouped(shape)
        return (g[0], g[2], g[1]) + g[3:]

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        np.copyto(dx.reshape(self.rule.grouped(dx.shape)),
                  top_diffs[0].reshape(self._swapped(dx.shape)).swapaxes(1, 2))
