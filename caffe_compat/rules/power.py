"""Caffe's PowerLayer rules (power_layer.cpp): ``y = (shift + scale x) ^ power``, read by
every engine.

Parameters and defaults: ``power`` 1, ``scale`` 1, ``shift`` 0. Caffe holds
``diff_scale = power * scale`` in float. Forward: where ``diff_scale`` is 0 the input is not
read and every output is ``1 if power == 0 else shift ^ power`` (float ``pow``); otherwise the
steps that change the value (scale 1, shift 0, power 1 skipped). Backward (Caffe's, not the
true derivative at every point): ``diff_scale`` 0 or ``power`` 1: ``dy diff_scale``;
``power`` 2: ``dy (diff_scale scale x + diff_scale shift)``; ``shift`` 0:
``dy power y / x``; else ``dy diff_scale y / (shift + scale x)``. No refusals.
"""
from __future__ import annotations

from .neuron import SameShape
from .record import frozen

import numpy as np

FIELDS = frozenset({"power", "scale", "shift"})


@frozen
class PowerRule(SameShape):
    layer: object
    power: float
    scale: float
    shift: float

    @property
    def diff_scale(self):
        """``power * scale`` as Caffe's float member holds it."""
        return float(np.float32(self.power) * np.float32(self.scale))

    @property
    def constant(self):
        """The output where the input is not read (``diff_scale == 0``), or None."""
        if self.diff_scale != 0.0:
            return None
        if self.power == 0.0:
            return 1.0
        with np.errstate(all="ignore"):
            return float(np.power(np.float32(self.shift), np.float32(self.power)))


def power_rule(layer, bottom_shapes=None):
    p = layer.power_param
    return PowerRule(layer, float(p.power), float(p.scale), float(p.shift))
