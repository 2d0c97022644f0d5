"""MVN (:mod:`caffe_compat.rules.mvn`): the rows (num x channel, or num) of the bottom as ONNX
nodes: the row mean subtracted (ReduceMean) and, with ``normalize_variance``, divided by
``sqrt(mean of the squares) + eps``. In an export's graph the rows keep the batch axis
(``(N, C, L)`` or ``(N, L)``, its length copied with 0)."""
import numpy as np

from ...rules.mvn import FIELDS, mvn_rule
from ._common import F32, declare, register
from .reshape import reshaped

declare("lite", "MVN", "MVNParameter", FIELDS)


@register("MVN")
def mvn(g, lp, bottoms, blobs):
    x, = bottoms
    rule = mvn_rule(lp, [x.shape])
    rows, per_row = rule.rows(x.shape)
    shape, free = (rows, per_row), [0, -1]
    if g.batch_free and rows != x.shape[0]:
        shape, free = (x.shape[0], rows // x.shape[0], per_row), [0, 0, -1]
    rows = reshaped(g, x, shape, free)
    axes = {"axes": [len(shape) - 1], "keepdims": 1}
    mean = g.op("ReduceMean", [rows], axes)
    name = g.op("Sub", [rows, mean])
    if rule.normalize_variance:
        var = g.op("ReduceMean", [g.op("Mul", [name, name])], axes)
        denom = g.op("Add", [g.op("Sqrt", [var]), g.const(np.array(rule.eps, F32))])
        name = g.op("Div", [name, denom])
    return [reshaped(g, type(x)(name, shape), x.shape, (0,) + x.shape[1:])]
