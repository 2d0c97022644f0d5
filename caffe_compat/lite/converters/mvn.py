"""MVN (:mod:`caffe_compat.rules.mvn`): the rows (num x channel, or num) of the bottom as ONNX
nodes: the row mean subtracted (ReduceMean) and, with ``normalize_variance``, divided by
``sqrt(mean of the squares) + eps``."""
import numpy as np

from ...rules import mvn as mvn_rule_module
from ...rules.fields import declare
from ...rules.mvn import mvn_rule
from ._common import F32, register
from .reshape import reshaped

declare("lite", "MVN", "MVNParameter", mvn_rule_module.FIELDS)


@register("MVN")
def mvn(g, lp, bottoms, blobs):
    x, = bottoms
    rule = mvn_rule(lp, [x.shape])
    rows = reshaped(g, x, rule.rows(x.shape))
    mean = g.op("ReduceMean", [rows], {"axes": [1], "keepdims": 1})
    name = g.op("Sub", [rows, mean])
    if rule.normalize_variance:
        var = g.op("ReduceMean", [g.op("Mul", [name, name])], {"axes": [1], "keepdims": 1})
        denom = g.op("Add", [g.op("Sqrt", [var]), g.const(np.array(rule.eps, F32))])
        name = g.op("Div", [name, denom])
    out = type(x)(name, rule.rows(x.shape))
    return [reshaped(g, out, x.shape)]
