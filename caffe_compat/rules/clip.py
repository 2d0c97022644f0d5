"""Caffe's ClipLayer rules (clip_layer.cpp), read by every engine: ``min`` and ``max`` (both
required in caffe.proto); ``y = max(min, min(x, max))`` with std::min / std::max (a NaN input
gives ``min``); backward ``dy`` where ``min <= x <= max``, else 0. Refused: a missing bound,
``min > max``."""
from __future__ import annotations

from .neuron import SameShape
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"min", "max"})


@frozen
class ClipRule(SameShape):
    layer: object
    min: float
    max: float


def clip_rule(layer, bottom_shapes=None):
    cp = layer.clip_param
    if not (layer.HasField("clip_param") and cp.HasField("min") and cp.HasField("max")):
        refuse(layer, "clip_param { min: ... max: ... } is required (both bounds)", "clip_param")
    lo, hi = float(cp.min), float(cp.max)
    if lo > hi:
        refuse(layer, f"clip_param min ({lo}) must not exceed max ({hi})", "clip_param.min")
    return ClipRule(layer, lo, hi)
