"""Caffe's SwishLayer rules (swish_layer.cpp), read by every engine: ``beta`` (default 1);
``y = x sigmoid(beta x)``; backward ``dy (beta y + s (1 - beta y))`` with
``s = sigmoid(beta x)``. No refusals."""
from __future__ import annotations

from .record import frozen

FIELDS = frozenset({"beta"})


@frozen
class SwishRule:
    layer: object
    beta: float


def swish_rule(layer):
    return SwishRule(layer, float(layer.swish_param.beta))
