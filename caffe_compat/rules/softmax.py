"""Softmax's rule (``softmax_layer.cpp``; SoftmaxWithLoss reads the same message), read by every
engine: ``axis`` (default 1, negative from the end), refused out of range (Caffe's
CanonicalAxisIndex). The top has the bottom's shape."""
from __future__ import annotations

from .convolution import canonical_axis

FIELDS = frozenset({"axis"})


def softmax_axis(layer, bottom_shape, type_name=None):
    """The canonical axis of ``layer``'s ``softmax_param.axis`` for a bottom of
    ``bottom_shape``."""
    return canonical_axis(layer, int(layer.softmax_param.axis), len(bottom_shape),
                          type_name=type_name, field="softmax_param.axis")
