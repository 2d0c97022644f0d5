"""Accuracy (Caffe's AccuracyLayer): the value of :mod:`caffe_compat.rules.accuracy`, the rule
both engines read. One top (the per-class second top is the torch engine's). No backward:
Caffe's Backward_cpu of Accuracy propagates nothing."""
import math

from ...errors import NetError
from ...rules.accuracy import FIELDS, accuracy_rule, accuracy_value
from ...rules.fields import declare
from ..registry import register
from .base import NoDiffLayer, need

declare("array", "Accuracy", "AccuracyParameter", FIELDS)


@register("Accuracy")
class Accuracy(NoDiffLayer):
    rule_of = staticmethod(accuracy_rule)
    top_of_all = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 2 and len(param.top) == 1, "Accuracy of one top")
        rule = self.rule
        self.top_k, self.axis, self.ignore = rule.top_k, rule.axis, rule.ignore_label

    def forward(self, bottoms, tops, params):
        x, label = bottoms
        outer = math.prod(x.shape[:self.axis])
        scores = x.reshape(outer, x.shape[self.axis], -1)
        tops[0][...] = accuracy_value(scores, label.reshape(outer, -1), self.top_k,
                                      self.ignore, self._fail)

    def _fail(self, message):
        raise NetError(f"layer '{self.name}': {message}")
