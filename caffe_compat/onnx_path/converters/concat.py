"""Concat (the rule in :mod:`caffe_compat.rules.concat`): ONNX's Concat along its axis; constant
inputs (PriorBox outputs) give a constant."""
import numpy as np

from ...rules.concat import FIELDS, concat_rule
from ._common import declare, register

declare("lite", "Concat", "ConcatParameter", FIELDS)


@register("Concat")
def concat(g, lp, bottoms, blobs):
    shapes = [b.shape for b in bottoms]
    rule = concat_rule(lp, shapes)
    axis, shape = rule.axis, rule.top_shape(shapes)
    if all(b.const is not None for b in bottoms):
        return [g.constant(np.concatenate([b.const for b in bottoms], axis=axis))]
    if len(bottoms) == 1:
        return [bottoms[0]]
    return [type(bottoms[0])(g.op("Concat", bottoms, {"axis": axis}), shape)]
