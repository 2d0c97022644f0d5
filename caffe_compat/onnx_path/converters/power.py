"""Power (:mod:`caffe_compat.rules.power`): Caffe's PowerLayer, ``(shift + scale x) ^ power``,
each step written only when it changes the value (``scale`` 1, ``shift`` 0, ``power`` 1 are
skipped, as Caffe's forward skips them); where ``power * scale`` is 0 the input is not read:
the rule's constant, expanded to the input's shape."""
import numpy as np

from ...rules.power import FIELDS, power_rule
from ._common import F32, declare, elementwise

declare("lite", "Power", "PowerParameter", FIELDS)


@elementwise("Power")
def power(g, lp, x, blobs):
    rule = power_rule(lp)
    if rule.constant is not None:
        # the constant at the input's shape, read from the input (no length written: the
        # same node for every batch size)
        return g.op("Expand", [g.const(np.array(rule.constant, F32)), g.op("Shape", [x])])
    name = g.name(x)
    if rule.scale != 1.0:
        name = g.op("Mul", [name, g.const(np.array(rule.scale, F32))])
    if rule.shift != 0.0:
        name = g.op("Add", [name, g.const(np.array(rule.shift, F32))])
    if rule.power != 1.0:
        name = g.op("Pow", [name, g.const(np.array(rule.power, F32))])
    return x if name == x.name else name
