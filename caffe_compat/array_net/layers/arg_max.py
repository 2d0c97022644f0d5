"""ArgMax (:mod:`caffe_compat.rules.arg_max`): a stable descending sort of the reversed values
(the larger index first among equal values, Caffe's ``partial_sort`` of ``greater<pair>``),
indices as floats. Caffe has no backward for it (``NOT_IMPLEMENTED``): force_backward does not
reach its bottom."""
import numpy as np

from ...rules.arg_max import FIELDS, arg_max_rule
from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer

declare("array", "ArgMax", "ArgMaxParameter", FIELDS)


def _ranked(rows, k):
    """(values, indices) of the ``k`` largest of each row (the last axis), Caffe's order."""
    length = rows.shape[-1]
    order = np.argsort(-rows[..., ::-1], axis=-1, kind="stable")[..., :k]
    index = (length - 1) - order
    return np.take_along_axis(rows, index, axis=-1), index


@register("ArgMax")
class ArgMax(ArrayLayer):
    one_bottom = True
    rule_of = staticmethod(arg_max_rule)

    def forward(self, bottoms, tops, params):
        x, rule, y = bottoms[0], self.rule, tops[0]
        if rule.axis is not None:
            values, index = _ranked(np.moveaxis(x, rule.axis, -1), rule.top_k)
            picked = values if rule.out_max_val else index
            y[...] = np.moveaxis(picked, -1, rule.axis)
            return
        values, index = _ranked(x.reshape(x.shape[0], -1), rule.top_k)
        parts = [index] + ([values] if rule.out_max_val else [])
        y[...] = np.stack(parts, axis=1).reshape(y.shape)

    def allow_force_backward(self, j):
        return False
