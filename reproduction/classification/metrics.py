"""Classification metrics of the seed paper's tables, with bootstrap intervals over clips.

All take integer class indices ``y_true``, ``y_pred`` in ``0..k-1`` and follow scikit-learn's
definitions (the tests compare them on random labels):

- :func:`confusion` : k x k counts, rows the true class, columns the predicted one;
- :func:`accuracy`  : the fraction of correct predictions;
- :func:`per_class` : recall, precision and F1 of every class (0 where undefined: a class
  without support has recall 0, a class never predicted precision 0, F1 0 when both are 0,
  scikit-learn's ``zero_division=0``);
- :func:`uar`       : unweighted average recall (balanced accuracy): the mean recall over the
  classes present in ``y_true``;
- :func:`macro_f1`  : the mean F1 over the classes present in ``y_true`` or ``y_pred``
  (scikit-learn's default label set).

:func:`scores_with_intervals` gives the four summary figures with 95 % percentile bootstrap
intervals from :class:`reproduction.statistics.Resampler` (units: clips; every figure of one
report drawn from the same clips).
"""
from __future__ import annotations

import numpy as np

from ..errors import ReproductionError

__all__ = ["confusion", "accuracy", "per_class", "uar", "macro_f1", "SUMMARY",
           "scores_with_intervals"]


def _check(y_true, y_pred, k):
    t = np.asarray(y_true, np.int64).ravel()
    p = np.asarray(y_pred, np.int64).ravel()
    if t.shape != p.shape:
        raise ReproductionError(f"metrics: {t.size} true labels but {p.size} predictions")
    for name, y in (("true", t), ("predicted", p)):
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ReproductionError(f"metrics: a {name} label outside 0..{k - 1}")
    return t, p


def confusion(y_true, y_pred, k):
    """k x k counts (int64): ``[i, j]`` clips of true class i predicted as j."""
    t, p = _check(y_true, y_pred, k)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def accuracy(y_true, y_pred, k=None):
    t, p = _check(y_true, y_pred, k if k is not None else 1 + max(
        int(np.max(y_true, initial=0)), int(np.max(y_pred, initial=0))))
    return float(np.mean(t == p)) if t.size else float("nan")


def per_class(y_true, y_pred, k):
    """``dict(recall, precision, f1, support)``: arrays of k values (see the module doc)."""
    c = confusion(y_true, y_pred, k).astype(np.float64)
    tp = np.diag(c)
    support, predicted = c.sum(axis=1), c.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(recall + precision > 0,
                      2 * recall * precision / (recall + precision), 0.0)
    return dict(recall=recall, precision=precision, f1=f1, support=support.astype(np.int64))


def uar(y_true, y_pred, k):
    """Mean recall over the classes present in ``y_true`` (balanced accuracy)."""
    pc = per_class(y_true, y_pred, k)
    present = pc["support"] > 0
    return float(pc["recall"][present].mean()) if present.any() else float("nan")


def macro_f1(y_true, y_pred, k):
    """Mean F1 over the classes present in ``y_true`` or ``y_pred``."""
    t, p = _check(y_true, y_pred, k)
    pc = per_class(t, p, k)
    present = np.zeros(k, bool)
    present[t] = True
    present[p] = True
    return float(pc["f1"][present].mean()) if present.any() else float("nan")


SUMMARY = {"accuracy": lambda t, p, k: accuracy(t, p, k), "UAR": uar, "macro-F1": macro_f1}


def scores_with_intervals(resampler, y_true, y_pred, k):
    """``{name: Interval}`` for accuracy, UAR and macro-F1 of one set of clip predictions,
    each with its bootstrap interval over the resampler's clips (``resampler.units`` must be
    the number of clips)."""
    t, p = _check(y_true, y_pred, k)
    if resampler.units != t.size:
        raise ReproductionError(f"metrics: the resampler draws {resampler.units} clips, the "
                                f"predictions are {t.size}")
    return {name: resampler.interval(lambda units, _s, f=f: f(t[units], p[units], k))
            for name, f in SUMMARY.items()}
