"""Flatten (the rule in :mod:`caffe_compat.rules.flatten`): the top is a view of the bottom's
data (Caffe's FlattenLayer shares it); backward: the top's diff, reshaped."""
import numpy as np

from ...rules.fields import declare
from ...rules.flatten import FIELDS, flatten_rule
from ..registry import register
from .base import BottomDiffLayer

declare("array", "Flatten", "FlattenParameter", FIELDS)


@register("Flatten")
class Flatten(BottomDiffLayer):
    """The bottom's data viewed in the rule's ``top_shape`` (Reshape's too)."""
    one_bottom = True
    rule_of = staticmethod(flatten_rule)
    shares_bottom = True

    def shared_tops(self, bottoms):
        return [bottoms[0].reshape(self.rule.top_shape(bottoms[0].shape))]

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        """The top's diff is the bottom's, reshaped (Caffe shares it)."""
        np.copyto(dx, top_diffs[0].reshape(dx.shape))
