"""Accuracy (Caffe's AccuracyLayer): the fraction of the labels not equal to ``ignore_label``
whose class has fewer than ``top_k`` *other* classes scoring ``>=`` it along ``axis`` (ties
count against it); labels are the float values truncated toward zero; 0 where no label
counts. One top (the per-class second top is the torch engine's). No backward: Caffe's
Backward_cpu of Accuracy propagates nothing.

The value is :func:`caffe_compat.rules.accuracy.accuracy_value`, the rule both engines read."""
import math

from ...errors import NetError
from ...rules.accuracy import accuracy_value
from ...rules.fields import declare
from ..registry import register
from .base import ArrayLayer, need

declare("array", "Accuracy", "AccuracyParameter", {"top_k", "axis", "ignore_label"})


@register("Accuracy")
class Accuracy(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        ap = param.accuracy_param
        need(len(bottom_shapes) == 2 and len(param.top) == 1, "Accuracy of one top")
        self.top_k = int(ap.top_k)
        need(self.top_k >= 1, "Accuracy top_k")
        n = len(bottom_shapes[0])
        need(-n <= ap.axis < max(n, 1), "Accuracy axis")
        self.axis = ap.axis + n if ap.axis < 0 else ap.axis
        self.ignore = int(ap.ignore_label) if ap.HasField("ignore_label") else None
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        data, label = (tuple(s) for s in bottom_shapes)
        classes = data[self.axis]
        labels = math.prod(label)
        need(labels and self.top_k <= math.prod(data) // labels, "Accuracy top_k")
        need(math.prod(data[:self.axis]) * math.prod(data[self.axis + 1:]) == labels,
             "Accuracy label count")
        need(classes >= 1, "Accuracy classes")
        return [()]

    def forward(self, bottoms, tops, params):
        x, label = bottoms
        outer = math.prod(x.shape[:self.axis])
        scores = x.reshape(outer, x.shape[self.axis], -1)
        tops[0][...] = accuracy_value(scores, label.reshape(outer, -1), self.top_k,
                                      self.ignore, self._fail)

    def _fail(self, message):
        raise NetError(f"layer '{self.name}': {message}")

    def can_backward(self):
        return True

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        pass
