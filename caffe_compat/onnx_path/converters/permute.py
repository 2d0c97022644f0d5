"""Permute (:mod:`caffe_compat.rules.permute`, SSD): the axes in ``order``, then the axes it
leaves out in their order (each axis once); ONNX's Transpose."""
import numpy as np

from ...rules.permute import FIELDS, permute_rule
from ._common import declare, register

declare("lite", "Permute", "PermuteParameter", FIELDS)


@register("Permute")
def permute(g, lp, bottoms, blobs):
    x, = bottoms
    rule = permute_rule(lp, [x.shape])
    if rule.identity:
        return [x]
    order = list(rule.order)
    if x.const is not None:
        return [g.constant(np.transpose(x.const, order))]
    return [type(x)(g.op("Transpose", [x], {"perm": order}), rule.top_shape(x.shape))]
