"""Classification metrics equal to scikit-learn's on random labels."""
import warnings

import numpy as np
import pytest

from reproduction.classification import metrics
from reproduction.errors import ReproductionError
from reproduction.statistics import Resampler

sk = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(12))
def test_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = 8
    n = int(rng.integers(1, 60))
    # some draws leave classes out of the truth or the predictions (the edge cases)
    t = rng.integers(0, int(rng.integers(2, k + 1)), n)
    p = np.where(rng.random(n) < 0.4, t, rng.integers(0, k, n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # scikit-learn warns on absent classes
        labels = np.arange(k)
        # exact up to float summation order: 1e-12
        assert metrics.accuracy(t, p, k) == pytest.approx(sk.accuracy_score(t, p), abs=1e-12)
        assert metrics.uar(t, p, k) == pytest.approx(sk.balanced_accuracy_score(t, p),
                                                     abs=1e-12)
        assert metrics.macro_f1(t, p, k) == pytest.approx(
            sk.f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        pc = metrics.per_class(t, p, k)
        np.testing.assert_allclose(pc["recall"], sk.recall_score(
            t, p, labels=labels, average=None, zero_division=0), atol=1e-12)
        np.testing.assert_allclose(pc["precision"], sk.precision_score(
            t, p, labels=labels, average=None, zero_division=0), atol=1e-12)
        np.testing.assert_allclose(pc["f1"], sk.f1_score(
            t, p, labels=labels, average=None, zero_division=0), atol=1e-12)
        np.testing.assert_array_equal(metrics.confusion(t, p, k),
                                      sk.confusion_matrix(t, p, labels=labels))


def test_intervals_hold_the_estimate():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 8, 80)
    p = np.where(rng.random(80) < 0.6, t, rng.integers(0, 8, 80))
    scores = metrics.scores_with_intervals(Resampler(80, resamples=300, unit="clips"), t, p, 8)
    assert set(scores) == {"accuracy", "UAR", "macro-F1"}
    for iv in scores.values():
        assert iv.low <= iv.estimate <= iv.high and iv.unit == "clips"
    assert scores["accuracy"].estimate == pytest.approx(np.mean(t == p), abs=1e-12)


def test_bad_labels():
    with pytest.raises(ReproductionError, match="outside 0..7"):
        metrics.confusion([0, 8], [0, 1], 8)
    with pytest.raises(ReproductionError, match="2 true labels but 3"):
        metrics.uar([0, 1], [0, 1, 2], 8)
