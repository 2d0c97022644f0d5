"""ShuffleChannel (ShuffleNet): channels in ``group`` groups are interleaved, output channel
``i * group + j`` = input channel ``j * (C / group) + i`` (OpenCV 4 dnn's ShuffleChannelLayer;
``shuffle_channel_param.group``, default 1). Backward: autograd."""
from ..rules.fields import declare
from ..rules.shuffle_channel import FIELDS, shuffle_channel_rule
from .base import Layer
from .registry import register_layer

declare("torch", "ShuffleChannel", "ShuffleChannelParameter", FIELDS)


@register_layer("ShuffleChannel")
class ShuffleChannel(Layer):
    rule_of = staticmethod(shuffle_channel_rule)
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.group = self.rule.group

    def forward(self, x):
        n, c = x.shape[:2]
        rest = tuple(x.shape[2:])
        return x.reshape((n, self.group, c // self.group) + rest).transpose(1, 2).reshape(x.shape)
