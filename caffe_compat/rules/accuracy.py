"""Caffe's AccuracyLayer rule on arrays, read by the torch layer and the array engine: a label
(the float value truncated toward zero) not equal to ``ignore_label`` is correct when fewer than
``top_k`` *other* classes score ``>=`` its class along ``axis`` (ties count against it); the
value is ``correct / counted`` (0 where no label counts). Every step is a comparison or a count,
and the one division is float32, so every engine gives the same bits."""
from __future__ import annotations

import numpy as np


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
