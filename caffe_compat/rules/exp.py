"""Caffe's ExpLayer rules (exp_layer.cpp), read by every engine: ``y = base ^ (shift +
scale x)``; ``base`` (default -1: e), ``scale`` 1, ``shift`` 0.

Caffe computes ``outer exp(inner x)`` with its float constants: ``log_base`` 1 for base -1,
else float ``log(base)``; ``inner = log_base * scale``; ``outer`` 1 where shift is 0, else
``exp(shift)`` (base e) or float ``pow(base, shift)``. Backward ``dy y inner``. Refused, as
Caffe's CHECKs: a base neither -1 nor positive, a log(base) that is not finite.
"""
from __future__ import annotations

import math
from .record import frozen

import numpy as np

from .refusal import refuse

FIELDS = frozenset({"base", "scale", "shift"})
_SECTION = "exp_param"


def log_base(layer, base, section):
    """Caffe's ``log_base``: 1 for base -1 (e), else ``log(base)`` in float; the CHECKs on
    base > 0 and a finite logarithm."""
    if base != -1.0 and not base > 0.0:
        refuse(layer, f"{section}.base must be strictly positive (or -1 for e), got {base}",
               f"{section}.base")
    if base == -1.0:
        return 1.0
    with np.errstate(all="ignore"):
        value = float(np.log(np.float32(base)))
    if not math.isfinite(value):
        refuse(layer, f"log(base) is not finite for base {base}", f"{section}.base")
    return value


@frozen
class ExpRule:
    layer: object
    base: float
    scale: float
    shift: float
    inner: float        # Caffe's inner_scale_ (float)
    outer: float        # Caffe's outer_scale_ (float)

    def top_shape(self, shape):
        return tuple(int(d) for d in shape)


def exp_rule(layer, bottom_shapes=None):
    p = layer.exp_param
    base, scale, shift = float(p.base), float(p.scale), float(p.shift)
    lb = log_base(layer, base, _SECTION)
    inner = float(np.float32(lb) * np.float32(scale))
    if shift == 0.0:
        outer = 1.0
    else:
        with np.errstate(all="ignore"):
            s32 = np.float32(shift)
            outer = float(np.exp(s32) if base == -1.0 else np.power(np.float32(base), s32))
    return ExpRule(layer, base, scale, shift, inner, outer)
