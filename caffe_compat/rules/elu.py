"""Caffe's ELULayer rules (elu_layer.cpp), read by every engine: ``alpha`` (default 1);
``y = max(x, 0) + alpha (exp(min(x, 0)) - 1)``; backward from the top:
``dy (x > 0 ? 1 : alpha + y)`` (``alpha`` at ``x == 0``). No refusals."""
from __future__ import annotations

from .neuron import float_rule

FIELDS = frozenset({"alpha"})

elu_rule = float_rule("ELURule", "elu_param", "alpha")
