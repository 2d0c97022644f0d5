"""Caffe's ThresholdLayer rules (threshold_layer.cpp), read by every engine: ``threshold``
(default 0); ``y = x > threshold ? 1 : 0`` (strictly greater). Caffe has no backward for it
(its Backward_cpu is NOT_IMPLEMENTED: the top carries no gradient). No refusals."""
from __future__ import annotations

from .neuron import float_rule

FIELDS = frozenset({"threshold"})

threshold_rule = float_rule("ThresholdRule", "threshold_param", "threshold")
