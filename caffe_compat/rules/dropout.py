"""Dropout's rule (``dropout_layer.cpp``; ``scale_train`` of OpenCV's and Faster R-CNN's forks),
read by every engine: ``dropout_ratio`` (default 0.5) in [0, 1) (refused otherwise). TEST is
the identity; with ``scale_train: false`` the scaling moves from TRAIN to TEST: TRAIN keeps the
values unscaled and TEST multiplies by ``1 - ratio`` (OpenCV 4 dnn's rule too). TRAIN keeps
each value with probability ``1 - ratio``, scaled by ``1 / (1 - ratio)`` (default)."""
from __future__ import annotations

from .neuron import SameShape
from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"dropout_ratio", "scale_train"})


@frozen
class DropoutRule(SameShape):
    layer: object
    ratio: float
    scale_train: bool

    def test_scale(self):
        """The TEST forward's factor, or None for the identity."""
        return None if self.scale_train or self.ratio == 0.0 else 1.0 - self.ratio


def dropout_rule(layer, bottom_shapes=None):
    dp = layer.dropout_param
    ratio = float(dp.dropout_ratio)
    if not 0.0 <= ratio < 1.0:
        refuse(layer, f"dropout_ratio must be in [0, 1), got {ratio}",
               "dropout_param.dropout_ratio")
    return DropoutRule(layer, ratio, bool(dp.scale_train))
