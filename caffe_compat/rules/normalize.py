"""Normalize's rule (SSD's ``normalize_layer.cpp``; OpenCV also names it NormalizeBBox), read by
every engine: ``x / sqrt(sum of x^2 + eps)`` with the sum over each item's values
(``across_spatial``, default true) or over the channels at each position, ``eps`` (default
1e-10) added to the sum, then times the ``scale`` blob: one value (``channel_shared``, default
true) or one per channel, filled by ``scale_filler`` (default constant 1). Refused: an input of
fewer than 2 axes, a per-channel scale of other channels than the input's. OpenCV's dnn also
refuses a per-channel scale with ``across_spatial``; SSD's Caffe (and every engine here)
multiplies channel by channel."""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"across_spatial", "scale_filler", "channel_shared", "eps"})


@frozen
class NormalizeRule:
    layer: object
    across_spatial: bool
    channel_shared: bool
    eps: float
    channels: int

    def scale_shape(self):
        return (1,) if self.channel_shared else (self.channels,)

    def fillers(self):
        """The scale's filler: the layer's message, or Caffe's default constant 1 (a number)."""
        p = self.layer.norm_param
        return [p.scale_filler if p.HasField("scale_filler") else 1.0]

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if not self.channel_shared and shape[1] != self.channels:
            refuse(self.layer, f"the scale has {self.channels} channels, the input {shape[1]}")
        return shape


def normalize_rule(layer, bottom_shapes):
    shape = tuple(int(d) for d in bottom_shapes[0])
    if len(shape) < 2:
        refuse(layer, f"input must have at least 2 axes (num, channels, ...), got {shape}")
    p = layer.norm_param
    return NormalizeRule(layer, bool(p.across_spatial), bool(p.channel_shared), float(p.eps),
                         shape[1])
