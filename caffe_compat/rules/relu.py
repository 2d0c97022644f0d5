"""ReLU's rule (``relu_layer.cpp``), read by every engine: ``max(x, 0) + negative_slope *
min(x, 0)`` with ``negative_slope`` default 0 (``engine`` picks Caffe's CPU or cuDNN code: no
effect on the values). The top has the bottom's shape; in place allowed."""
from __future__ import annotations

FIELDS = frozenset({"negative_slope"})


def relu_slope(layer):
    """The layer's ``negative_slope`` (0: a plain ReLU)."""
    return float(layer.relu_param.negative_slope)
