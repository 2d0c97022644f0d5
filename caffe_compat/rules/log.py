"""Caffe's LogLayer rules (log_layer.cpp), read by every engine: ``y = log_base(shift +
scale x)``; ``base`` (default -1: e), ``scale`` 1, ``shift`` 0.

Caffe's float constants: ``base_scale = 1 / log_base``, ``backward_num_scale = scale /
log_base`` (``log_base`` as in :mod:`.exp`). Forward ``base_scale ln(shift + scale x)``,
backward ``dy backward_num_scale / (shift + scale x)``. Refused, as Caffe's CHECKs: a base
neither -1 nor positive, a log(base) or ``1 / log(base)`` that is not finite (base 1).
"""
from __future__ import annotations

import math

import numpy as np

from .exp import FIELDS, base_scale_shift  # noqa: F401 (Log's fields are Exp's)
from .neuron import SameShape
from .record import frozen
from .refusal import refuse


@frozen
class LogRule(SameShape):
    layer: object
    base: float
    scale: float
    shift: float
    base_scale: float           # Caffe's base_scale_ (float)
    backward_scale: float       # Caffe's backward_num_scale_ (float)


def log_rule(layer, bottom_shapes=None):
    base, scale, shift, lb = base_scale_shift(layer, layer.log_param, "log_param")
    if lb == 0.0 or not math.isfinite(1.0 / lb):
        refuse(layer, f"1 / log(base) is not finite for base {base}", "log_param.base")
    f32 = np.float32
    with np.errstate(all="ignore"):
        base_scale = float(f32(1) / f32(lb))
        backward_scale = float(f32(scale) / f32(lb))
    return LogRule(layer, base, scale, shift, base_scale, backward_scale)
