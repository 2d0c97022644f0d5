"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): a Reshape to the rule's shape
(constants stay constants); in an export's graph the axes before ``axis`` are copied (0) and
the merged axis is inferred (-1) where it holds the batch."""
from ...rules.flatten import FIELDS, flatten_rule
from ._common import declare, register
from .reshape import reshaped

declare("lite", "Flatten", "FlattenParameter", FIELDS)


@register("Flatten")
def flatten(g, lp, bottoms, blobs):
    x, = bottoms
    rule = flatten_rule(lp, [x.shape])
    top = rule.top_shape(x.shape)
    start = rule.start
    free = [0] * start + [-1 if start == 0 else top[start]] + list(x.shape[rule.end + 1:])
    return [reshaped(g, x, top, free)]
