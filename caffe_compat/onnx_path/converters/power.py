"""Power (:mod:`caffe_compat.rules.power`): Caffe's PowerLayer, ``(shift + scale x) ^ power``,
each step written only when it changes the value (``scale`` 1, ``shift`` 0, ``power`` 1 are
skipped, as Caffe's forward skips them); where ``power * scale`` is 0 the input is not read:
the rule's constant, expanded to the input's shape."""
import numpy as np

from ...rules import power as power_rule_module
from ...rules.fields import declare
from ...rules.power import power_rule
from ._common import F32, register

declare("lite", "Power", "PowerParameter", power_rule_module.FIELDS)


@register("Power")
def power(g, lp, bottoms, blobs):
    x, = bottoms
    rule = power_rule(lp)
    if rule.constant is not None:
        # the constant at the input's shape, read from the input (no length written: the
        # same node for every batch size)
        name = g.op("Expand", [g.const(np.array(rule.constant, F32)), g.op("Shape", [x])])
        return [type(x)(name, x.shape)]
    name = g.name(x)
    if rule.scale != 1.0:
        name = g.op("Mul", [name, g.const(np.array(rule.scale, F32))])
    if rule.shift != 0.0:
        name = g.op("Add", [name, g.const(np.array(rule.shift, F32))])
    if rule.power != 1.0:
        name = g.op("Pow", [name, g.const(np.array(rule.power, F32))])
    if name == x.name:
        return [x]
    return [type(x)(name, x.shape)]
