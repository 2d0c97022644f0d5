"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): a Reshape to the rule's shape
(constants stay constants)."""
from ...rules import flatten as flatten_rule_module
from ...rules.fields import declare
from ...rules.flatten import flatten_rule
from ._common import register
from .reshape import reshaped

declare("lite", "Flatten", "FlattenParameter", flatten_rule_module.FIELDS)


@register("Flatten")
def flatten(g, lp, bottoms, blobs):
    x, = bottoms
    return [reshaped(g, x, flatten_rule(lp, [x.shape]).top_shape(x.shape))]
