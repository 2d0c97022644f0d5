"""Caffe's ThresholdLayer rules (threshold_layer.cpp), read by every engine: ``threshold``
(default 0); ``y = x > threshold ? 1 : 0`` (strictly greater). Caffe has no backward for it
(its Backward_cpu is NOT_IMPLEMENTED: the top carries no gradient). No refusals."""
from __future__ import annotations

from .neuron import SameShape
from .record import frozen

FIELDS = frozenset({"threshold"})


@frozen
class ThresholdRule(SameShape):
    layer: object
    threshold: float


def threshold_rule(layer, bottom_shapes=None):
    return ThresholdRule(layer, float(layer.threshold_param.threshold))
