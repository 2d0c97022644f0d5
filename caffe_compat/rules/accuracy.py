"""Caffe's AccuracyLayer rules (accuracy_layer.cpp), read by the torch layer and the array
engine.

Parameters and defaults: ``top_k`` (1), ``axis`` (1; negative from the end), ``ignore_label``
(none unless given). A label (the float value truncated toward zero) not equal to
``ignore_label`` is correct when fewer than ``top_k`` *other* classes score ``>=`` its class
along ``axis`` (ties count against it); the value is ``correct / counted`` (0 where no label
counts). Every step is a comparison or a count, and the one division is float32, so every
engine gives the same bits. Refusals, as Caffe's CHECKs: ``top_k`` below 1 or above the number
of classes, an axis out of range, a label count other than the prediction's outer * inner.
"""
from __future__ import annotations

import math

import numpy as np

from .convolution import canonical_axis
from .record import frozen
from .refusal import refuse

# the AccuracyParameter fields this rule reads (every engine that reads it honours them)
FIELDS = frozenset({"top_k", "axis", "ignore_label"})


@frozen
class AccuracyRule:
    layer: object
    top_k: int
    axis: int
    ignore_label: int | None

    def top_shape(self, bottom_shapes):
        """The accuracy's shape ``()`` for the prediction's and the label's shapes."""
        data, label = (tuple(int(d) for d in s) for s in bottom_shapes[:2])
        labels = math.prod(label)
        if labels == 0 or self.top_k > math.prod(data) // labels:
            refuse(self.layer, f"top_k ({self.top_k}) must not exceed the number of classes "
                   f"(prediction {data}, label {label})")
        outer, inner = math.prod(data[:self.axis]), math.prod(data[self.axis + 1:])
        if outer * inner != labels:
            refuse(self.layer, f"the label count ({labels}, shape {label}) must equal outer * "
                   f"inner = {outer} * {inner} for prediction shape {data}, axis {self.axis}")
        return ()


def accuracy_rule(layer, bottom_shapes):
    """The :class:`AccuracyRule` of ``layer`` for its bottoms' shapes."""
    p = layer.accuracy_param
    top_k = int(p.top_k)
    if top_k < 1:
        refuse(layer, f"top_k must be at least 1, got {top_k}")
    axis = canonical_axis(layer, int(p.axis), len(bottom_shapes[0]), field="accuracy_param.axis")
    ignore = int(p.ignore_label) if p.HasField("ignore_label") else None
    rule = AccuracyRule(layer, top_k, axis, ignore)
    rule.top_shape(bottom_shapes)
    return rule


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
