"""Reduction (:mod:`caffe_compat.rules.reduction`): the axes from ``axis`` on joined into one,
ONNX's ReduceSum (of Abs for ASUM) / ReduceSumSquare over it (MEAN: the sum), times the rule's float
coefficient (MEAN's divided by the count, as Caffe holds it). A 0-d top (``axis`` 0) is the
torch path's."""
import math

import numpy as np

from ...rules import reduction as reduction_rule_module
from ...rules.fields import declare
from ...rules.reduction import ASUM, SUMSQ, reduction_rule
from ._common import F32, Unsupported, register
from .reshape import reshaped

declare("lite", "Reduction", "ReductionParameter", reduction_rule_module.FIELDS)


@register("Reduction")
def reduction(g, lp, bottoms, blobs):
    x, = bottoms
    rule = reduction_rule(lp, [x.shape])
    top = rule.top_shape(x.shape)
    if not top:
        raise Unsupported(f"layer '{lp.name}': a 0-d top (axis 0), which cv2.dnn's blobs "
                          "cannot hold")
    rows = reshaped(g, x, top + (math.prod(x.shape[rule.axis:]),))
    axis = len(top)
    if rule.operation == ASUM:
        # |x| summed (not ReduceL1: OpenVINO 2026.4's ONNX reader reduces every axis of a
        # ReduceL1-13, its axes attribute ignored)
        name = g.op("ReduceSum", [g.op("Abs", [rows]), g.const(np.array([axis], np.int64))],
                    {"keepdims": 0})
    elif rule.operation == SUMSQ:
        name = g.op("ReduceSumSquare", [rows], {"axes": [axis], "keepdims": 0})
    else:       # ReduceSum-13 takes its axes as an input
        name = g.op("ReduceSum", [rows, g.const(np.array([axis], np.int64))], {"keepdims": 0})
    coeff = rule.scale(x.shape)
    if coeff != 1.0:
        name = g.op("Mul", [name, g.const(np.array(coeff, F32))])
    return [type(x)(name, top)]
