"""Reshape (:mod:`caffe_compat.rules.reshape`): the top is a view of the bottom's data with the
rule's shape (Caffe's ReshapeLayer shares it); backward: the top's diff, reshaped."""
from ...rules.fields import declare
from ...rules.reshape import FIELDS, reshape_rule
from ..registry import register
from .flatten import Flatten

declare("array", "Reshape", "ReshapeParameter", FIELDS)


@register("Reshape")
class Reshape(Flatten):
    rule_of = staticmethod(reshape_rule)
