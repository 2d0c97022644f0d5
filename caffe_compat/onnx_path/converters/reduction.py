"""Reduction (:mod:`caffe_compat.rules.reduction`): the axes from ``axis`` on joined into one,
ONNX's ReduceSum (of Abs for ASUM) / ReduceSumSquare over it (MEAN: the sum), times the rule's
float coefficient (MEAN's divided by the count, as Caffe holds it). A 0-d top (``axis`` 0) is
the torch path's, but in an export's graph (``batch_free``), where MEAN's count is read with
``Size``: the batch is part of it."""
import math

import numpy as np

from ...rules.reduction import ASUM, FIELDS, MEAN, SUMSQ, reduction_rule
from ._common import F32, FLOAT, Unsupported, declare, register
from .shape import reshaped

declare("lite", "Reduction", "ReductionParameter", FIELDS)


@register("Reduction")
def reduction(g, lp, bottoms, blobs):
    x, = bottoms
    rule = reduction_rule(lp, [x.shape])
    top = rule.top_shape(x.shape)
    if not top and not g.batch_free:
        raise Unsupported(f"layer '{lp.name}': a 0-d top (axis 0), which cv2.dnn's blobs "
                          "cannot hold")
    rows = reshaped(g, x, top + (math.prod(x.shape[rule.axis:]),), [0] * rule.axis + [-1])
    axis = len(top)
    if rule.operation == ASUM:
        # |x| summed (not ReduceL1: OpenVINO 2026.4's ONNX reader reduces every axis of a
        # ReduceL1-13, its axes attribute ignored)
        name = g.op("ReduceSum", [g.op("Abs", [rows]), g.const([axis])], {"keepdims": 0})
    elif rule.operation == SUMSQ:
        name = g.op("ReduceSumSquare", [rows], {"axes": [axis], "keepdims": 0})
    else:       # ReduceSum-13 takes its axes as an input
        name = g.op("ReduceSum", [rows, g.const([axis])], {"keepdims": 0})
    if rule.operation == MEAN and not top:
        # coeff / count in float32, as the rule computes it, for the batch given
        count = g.op("Cast", [g.op("Size", [x])], {"to": FLOAT})
        return [type(x)(g.op("Mul", [name, g.op("Div", [g.const(np.array(rule.coeff, F32)),
                                                         count])]), top)]
    coeff = rule.scale(x.shape)
    if coeff != 1.0:
        name = g.op("Mul", [name, g.const(np.array(coeff, F32))])
    return [type(x)(name, top)]
