"""Caffe's SwishLayer rules (swish_layer.cpp), read by every engine: ``beta`` (default 1);
``y = x sigmoid(beta x)``; backward ``dy (beta y + s (1 - beta y))`` with
``s = sigmoid(beta x)``. No refusals."""
from __future__ import annotations

from .neuron import float_rule

FIELDS = frozenset({"beta"})

swish_rule = float_rule("SwishRule", "swish_param", "beta")
