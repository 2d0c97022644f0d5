"""ShuffleChannel (ShuffleNet): channels in ``group`` groups are interleaved, output channel
``i * group + j`` = input channel ``j * (C / group) + i`` (OpenCV 4 dnn's ShuffleChannelLayer;
``shuffle_channel_param.group``, default 1). Backward: autograd."""
from .base import Layer
from .registry import register_layer


@register_layer("ShuffleChannel")
class ShuffleChannel(Layer):
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.group = int(param.shuffle_channel_param.group)
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) < 2 or self.group < 1 or shape[1] % self.group:
            self.fail(f"the {shape[1] if len(shape) > 1 else '?'} channels of {shape} cannot be "
                      f"split into {self.group} groups")
        return [shape]

    def forward(self, x):
        n, c = x.shape[:2]
        rest = tuple(x.shape[2:])
        return x.reshape((n, self.group, c // self.group) + rest).transpose(1, 2).reshape(x.shape)
