"""ShuffleNet's ShuffleChannelLayer rules (as OpenCV 4's dnn runs it), read by every engine:
``group`` (default 1); top channel ``i * group + j`` is bottom channel ``j * (C / group) +
i``; backward the inverse shuffle. Refused: fewer than 2 axes, channels not divisible by
``group`` (or a group below 1)."""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"group"})


@frozen
class ShuffleChannelRule:
    layer: object
    group: int

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2 or self.group < 1 or shape[1] % self.group:
            refuse(self.layer, f"the {shape[1] if len(shape) > 1 else '?'} channels of {shape} "
                   f"cannot be split into {self.group} groups", "shuffle_channel_param.group")
        return shape

    def grouped(self, shape):
        """The bottom's shape with the channels as (group, C / group)."""
        n, c = shape[:2]
        return (n, self.group, c // self.group) + tuple(shape[2:])


def shuffle_channel_rule(layer, bottom_shapes=None):
    rule = ShuffleChannelRule(layer, int(layer.shuffle_channel_param.group))
    for shape in bottom_shapes or ():
        rule.top_shape(shape)
    return rule
