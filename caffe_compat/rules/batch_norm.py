"""Caffe's BatchNormLayer rules (batch_norm_layer.cpp), read by every engine.

Parameters and defaults: ``use_global_stats`` (absent: true in TEST, false in TRAIN),
``moving_average_fraction`` (0.999), ``eps`` (1e-5); OpenCV's schema adds ``scale_bias``
(false; true adds a learned scale (C,) filled with 1 and bias (C,), applied after). Blobs:
0 = accumulated mean (C,), 1 = accumulated variance (C,), 2 = the moving-average scale factor
(1,), all statistics: their ParamSpecs get ``lr_mult: 0`` and a non-zero one is refused. With
global statistics Caffe normalises by ``blob0 * f`` and ``blob1 * f`` with ``f = 1 / blob2[0]``
(``0`` when ``blob2[0]`` is 0): ``y = (x - mean) / sqrt(var + eps)``, channels on axis 1.
Refusals, as Caffe's CHECKs: a bottom of fewer than 2 axes, a later bottom with other channels,
a negative ``eps``, a non-zero lr_mult on a statistic.
"""
from __future__ import annotations

import numpy as np

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"use_global_stats", "moving_average_fraction", "eps"})
EXTENSIONS = frozenset({"scale_bias"})      # OpenCV's schema (NVIDIA Caffe)
_SECTION = "batch_norm_param"


@frozen
class BatchNormRule:
    layer: object
    use_global_stats: bool
    moving_average_fraction: float
    eps: float
    channels: int
    scale_bias: bool

    def param_shapes(self):
        c = (self.channels,)
        return [c, c, (1,)] + ([c, c] if self.scale_bias else [])

    def stats_factor(self, scale_factor):
        """Caffe's ``1 / blob2[0]`` in float32, and 0 when it is 0."""
        s = np.float32(scale_factor)
        return np.float32(0) if s == 0 else np.float32(1) / s

    def view(self, ndim):
        return (1, self.channels) + (1,) * (ndim - 2)

    def top_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2 or shape[1] != self.channels:
            refuse(self.layer, f"bottom shape {shape} does not have the {self.channels} "
                   "channels the layer was set up with")
        return shape


def batch_norm_rule(layer, bottom_shapes, phase="TEST"):
    """The :class:`BatchNormRule` of ``layer`` in ``phase`` for its first bottom's shape."""
    p = layer.batch_norm_param
    shape = tuple(int(d) for d in bottom_shapes[0])
    if len(shape) < 2:
        refuse(layer, f"bottom must have at least 2 axes (num, channels, ...), got {shape}")
    use_global = bool(p.use_global_stats) if p.HasField("use_global_stats") \
        else phase == "TEST"
    eps = float(p.eps)
    if eps < 0:
        refuse(layer, f"eps must be non-negative, got {eps}", f"{_SECTION}.eps")
    for i, spec in enumerate(list(layer.param)[:3]):
        if spec.lr_mult != 0.0:
            refuse(layer, f"param {i} has lr_mult {spec.lr_mult}; the batch statistics cannot "
                   "be configured as learned parameters (lr_mult must be 0)", "param")
    scale_bias = bool(getattr(p, "scale_bias", False))
    return BatchNormRule(layer, use_global, float(p.moving_average_fraction), eps, shape[1],
                         scale_bias)
