"""Accuracy (Caffe's AccuracyLayer): the fraction of the labels not equal to ``ignore_label``
whose class has fewer than ``top_k`` *other* classes scoring ``>=`` it along ``axis`` (ties
count against it); labels are the float values truncated toward zero; 0 where no label
counts. One top (the per-class second top is the torch engine's). No backward: Caffe's
Backward_cpu of Accuracy propagates nothing.

:func:`accuracy_value` is the rule on arrays, shared with the torch engine's layer: every step
a comparison or a count, and one float32 division ``correct / counted``, so both engines give
the same bits."""
import math

import numpy as np

from ...errors import NetError
from ..registry import register
from .base import ArrayLayer, need


def accuracy_value(scores, labels, top_k, ignore_label, fail):
    """Caffe's accuracy of ``scores`` (outer, classes, inner) float32 for ``labels`` (outer,
    inner) float32, as a float32 0-d array; ``fail(message)`` raises for a label out of
    range."""
    outer, classes, inner = scores.shape
    lab = labels.astype(np.int64)                          # toward zero
    if inner == 1 and ignore_label is None and outer:
        return _rows_accuracy(scores.reshape(outer, classes), lab.reshape(outer), top_k, fail)
    valid = lab != ignore_label if ignore_label is not None else None
    bad = (lab < 0) | (lab >= classes)
    if valid is not None:
        bad &= valid
    if bad.any():
        fail(f"label values must lie in [0, {classes}), got {sorted(set(lab[bad].tolist()))}")
    safe = lab if valid is None else np.where(valid, lab, 0)
    if inner == 1:                                         # (N, C) scores
        flat = scores.reshape(outer, classes)
        true_score = flat[np.arange(outer), safe.reshape(outer)]
        better = ((flat >= true_score[:, None]).sum(axis=1) - 1).reshape(outer, 1)
    else:
        true_score = np.take_along_axis(scores, safe[:, None, :], 1)
        better = (scores >= true_score).sum(axis=1) - 1    # the true class matches itself
    correct = better < top_k
    if valid is not None:
        correct &= valid
        n_valid = int(valid.sum())
    else:
        n_valid = lab.size
    if not n_valid:
        return np.zeros((), np.float32)
    return np.asarray(np.float32(correct.sum()) / np.float32(n_valid), np.float32)


def _rows_accuracy(flat, lab, top_k, fail):
    """:func:`accuracy_value` of (items, classes) scores with every label counted: the same
    comparisons and counts."""
    n, classes = flat.shape
    if int(lab.min()) < 0 or int(lab.max()) >= classes:
        bad = lab[(lab < 0) | (lab >= classes)]
        fail(f"label values must lie in [0, {classes}), got {sorted(set(bad.tolist()))}")
    true_score = flat[np.arange(n), lab]
    # ``>=`` matches the true class itself: fewer than top_k others is at most top_k in all
    at_least = np.count_nonzero(flat >= true_score[:, None], axis=1)
    correct = np.count_nonzero(at_least <= top_k)
    return np.asarray(np.float32(correct) / np.float32(n), np.float32)


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
