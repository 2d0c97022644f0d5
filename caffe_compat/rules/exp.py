"""Caffe's ExpLayer rules (exp_layer.cpp), read by every engine: ``y = base ^ (shift +
scale x)``; ``base`` (default -1: e), ``scale`` 1, ``shift`` 0.

Caffe computes ``outer exp(inner x)`` with its float constants: ``log_base`` 1 for base -1,
else float ``log(base)``; ``inner = log_base * scale``; ``outer`` 1 where shift is 0, else
``exp(shift)`` (base e) or float ``pow(base, shift)``. Backward ``dy y inner``. Refused, as
Caffe's CHECKs: a base neither -1 nor positive, a log(base) that is not finite.
"""
from __future__ import annotations

import math

import numpy as np

from .neuron import SameShape
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"base", "scale", "shift"})


def base_scale_shift(layer, p, section):
    """``base``, ``scale`` and ``shift`` of ``layer``'s message ``p`` (its field ``section``)
    as floats, and Caffe's ``log_base``: 1 for base -1 (e), else ``log(base)`` in float; the
    CHECKs on base > 0 and a finite logarithm."""
    base, scale, shift = float(p.base), float(p.scale), float(p.shift)
    if base != -1.0 and not base > 0.0:
        refuse(layer, f"{section}.base must be strictly positive (or -1 for e), got {base}",
               f"{section}.base")
    if base == -1.0:
        return base, scale, shift, 1.0
    with np.errstate(all="ignore"):
        value = float(np.log(np.float32(base)))
    if not math.isfinite(value):
        refuse(layer, f"log(base) is not finite for base {base}", f"{section}.base")
    return base, scale, shift, value


@frozen
class ExpRule(SameShape):
    layer: object
    base: float
    scale: float
    shift: float
    inner: float        # Caffe's inner_scale_ (float)
    outer: float        # Caffe's outer_scale_ (float)


def exp_rule(layer, bottom_shapes=None):
    base, scale, shift, lb = base_scale_shift(layer, layer.exp_param, "exp_param")
    inner = float(np.float32(lb) * np.float32(scale))
    if shift == 0.0:
        outer = 1.0
    else:
        with np.errstate(all="ignore"):
            s32 = np.float32(shift)
            outer = float(np.exp(s32) if base == -1.0 else np.power(np.float32(base), s32))
    return ExpRule(layer, base, scale, shift, inner, outer)
