"""ShuffleChannel (:mod:`caffe_compat.rules.shuffle_channel`): the channels as (group, C /
group), transposed (ONNX's Reshape, Transpose, Reshape; an export's graph copies the batch
length with 0)."""
from ...rules.shuffle_channel import FIELDS, shuffle_channel_rule
from ._common import declare, register
from .reshape import reshaped

declare("lite", "ShuffleChannel", "ShuffleChannelParameter", FIELDS)


@register("ShuffleChannel")
def shuffle_channel(g, lp, bottoms, blobs):
    x, = bottoms
    rule = shuffle_channel_rule(lp, [x.shape])
    grouped = rule.grouped(x.shape)
    grouped = reshaped(g, x, grouped, (0,) + grouped[1:])
    perm = [0, 2, 1] + list(range(3, len(grouped.shape)))
    shape = tuple(grouped.shape[a] for a in perm)
    swapped = type(x)(g.op("Transpose", [grouped], {"perm": perm}), shape)
    return [reshaped(g, swapped, x.shape, (0,) + x.shape[1:])]
