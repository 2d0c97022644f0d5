"""Caffe's LRNLayer rules (lrn_layer.cpp), read by every engine.

Parameters and defaults: ``local_size`` 5 (odd), ``alpha`` 1, ``beta`` 0.75, ``k`` 1,
``norm_region`` ACROSS_CHANNELS (or WITHIN_CHANNEL). ACROSS_CHANNELS: ``y = x (k + alpha / n
sum of x^2 over the n channels centred on c, clipped to the channels)^-beta``; the constants
as Caffe's float32 code holds them: ``alpha / n`` in float, ``2 alpha beta / n`` in double
stored as float. WITHIN_CHANNEL (WithinChannelForward: Power, AVE Pooling and Eltwise layers):
``y = x (1 + alpha mean)^-beta``, ``mean`` the sum of x^2 over the n x n window zero-padded by
``(n - 1) / 2`` divided by n^2 everywhere, borders included (:func:`within_channel`); ``k`` is
not used. Refusals, as Caffe's CHECKs: an even ``local_size``, a bottom of other than
4 axes.
"""
from __future__ import annotations

import numpy as np

from .record import frozen
from .refusal import refuse

ACROSS_CHANNELS, WITHIN_CHANNEL = 0, 1
FIELDS = frozenset({"local_size", "alpha", "beta", "k", "norm_region"})
_SECTION = "lrn_param"


@frozen
class LRNRule:
    layer: object
    size: int
    alpha: float
    beta: float
    k: float
    region: int

    @property
    def pre_pad(self):
        return (self.size - 1) // 2

    @property
    def beta32(self):
        return float(np.float32(self.beta))

    @property
    def k32(self):
        return float(np.float32(self.k))

    @property
    def alpha_over_size(self):
        return float(np.float32(self.alpha) / np.float32(self.size))

    @property
    def cache_ratio(self):
        """``2 alpha beta / size`` in double from the float32 values, stored as float."""
        f32 = np.float32
        return float(f32(2.0 * float(f32(self.alpha)) * float(f32(self.beta)) / self.size))

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) != 4:
            refuse(self.layer, "bottom must have 4 axes (num, channels, height, width), got "
                   f"{shape}")
        return shape


def within_channel(x, window_mean, alpha, beta, power):
    """(top, scale) of Caffe's WITHIN_CHANNEL LRN: ``scale = 1 + alpha mean``, ``top = x
    scale^-beta``, on the arrays of any engine (``window_mean`` its pooled mean of x^2,
    ``power`` its ``pow``)."""
    scale = 1.0 + alpha * window_mean
    return x * power(scale, -beta), scale


def lrn_rule(layer, bottom_shapes=None):
    p = layer.lrn_param
    size = int(p.local_size)
    if size % 2 != 1:
        refuse(layer, f"local_size must be odd, got {size}", f"{_SECTION}.local_size")
    region = int(p.norm_region)
    if region not in (ACROSS_CHANNELS, WITHIN_CHANNEL):
        refuse(layer, f"unknown norm_region {region}", f"{_SECTION}.norm_region")
    rule = LRNRule(layer, size, float(p.alpha), float(p.beta), float(p.k), region)
    for shape in bottom_shapes or ():
        rule.top_shape(shape)
    return rule
