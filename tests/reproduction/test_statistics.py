"""reproduction.statistics: bootstrap intervals and verdicts."""
import numpy as np
import pytest

from reproduction import statistics as S


def _mean_of(values):
    values = np.asarray(values, float)
    return lambda units, seeds: float(values[units].mean())


def test_interval_of_a_mean_matches_the_normal_approximation():
    """The percentile interval of a mean of 400 normal draws is mean +- 1.96 sd/sqrt(n): the
    bounds within 10 % of that half-width (bootstrap noise at 4,000 replicates is ~3 %)."""
    values = np.random.default_rng(3).normal(2.0, 1.5, 400)
    iv = S.Resampler(400, resamples=4000, seed=1).interval(_mean_of(values))
    half = 1.96 * values.std(ddof=1) / np.sqrt(400)
    assert iv.estimate == pytest.approx(values.mean())
    assert iv.low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert iv.high == pytest.approx(values.mean() + half, abs=0.1 * half)
    assert iv.low < iv.estimate < iv.high


def test_draws_are_fixed_by_the_seed():
    values = np.arange(10.0)
    a = S.Resampler(10, resamples=200, seed=5).interval(_mean_of(values))
    b = S.Resampler(10, resamples=200, seed=5).interval(_mean_of(values))
    c = S.Resampler(10, resamples=200, seed=6).interval(_mean_of(values))
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)


def test_a_difference_is_paired_over_units():
    """Two statistics that differ by a constant on every unit: the paired difference has no
    spread at all, although each statistic alone has a wide interval."""
    values = np.random.default_rng(0).normal(0, 1, 30)
    r = S.Resampler(30, resamples=500)
    d = r.difference(_mean_of(values + 0.25), _mean_of(values))
    assert d.estimate == pytest.approx(0.25)
    assert d.low == pytest.approx(0.25) and d.high == pytest.approx(0.25)
    assert r.interval(_mean_of(values)).high - r.interval(_mean_of(values)).low > 0.3


def test_seeds_are_drawn_per_model():
    """A model's seeds are drawn the same way for the same key and differently for another
    key; a statistic over seeds then varies with the draws."""
    r = S.Resampler(4, resamples=300, seed=2)
    assert np.array_equal(r.seed_draws(3, "hr"), r.seed_draws(3, "hr"))
    assert not np.array_equal(r.seed_draws(3, "hr"), r.seed_draws(3, "lr-3"))
    per_seed = np.array([0.1, 0.2, 0.6])
    iv = r.interval(lambda units, seeds: float(per_seed[seeds].mean()), seeds=3, key="hr")
    assert iv.estimate == pytest.approx(0.3)
    assert iv.low < 0.3 < iv.high
    assert iv.unit == "units x seeds"


def test_undefined_statistic_gives_a_nan_interval_and_not_testable():
    r = S.Resampler(5, resamples=100)
    iv = r.interval(lambda units, seeds: float("nan"))
    assert not np.isfinite(iv.estimate) and iv.format() == "n/a"
    v = S.verdict_for_difference("claim", iv, "x")
    assert v.status == S.NOT_TESTABLE


@pytest.mark.parametrize("low, high, direction, status", [
    (0.1, 0.3, +1, S.SUPPORTED), (-0.3, -0.1, +1, S.CONTRADICTED), (-0.1, 0.2, +1, S.INCONCLUSIVE),
    (-0.3, -0.1, -1, S.SUPPORTED), (0.1, 0.3, -1, S.CONTRADICTED), (-0.1, 0.2, -1, S.INCONCLUSIVE),
])
def test_verdict_for_difference(low, high, direction, status):
    iv = S.Interval((low + high) / 2, low, high)
    v = S.verdict_for_difference("A ahead of B", iv, "CCC(A) - CCC(B)", direction)
    assert v.status == status
    assert v.line().startswith(f"[{status}] A ahead of B: CCC(A) - CCC(B) = ")


@pytest.mark.parametrize("low, high, status", [
    (-0.02, 0.03, S.SUPPORTED), (0.06, 0.2, S.CONTRADICTED), (-0.2, -0.06, S.CONTRADICTED),
    (-0.01, 0.08, S.INCONCLUSIVE),
])
def test_verdict_for_closeness(low, high, status):
    v = S.verdict_for_closeness("A close to B", S.Interval(0.0, low, high), "d", margin=0.05)
    assert v.status == status


def test_printouts():
    vs = [S.verdict_for_difference("A ahead", S.Interval(0.2, 0.1, 0.3, resamples=10), "d"),
          S.not_testable("bit-rate trend", "the sample has one rate")]
    text = S.format_verdicts(vs)
    assert text.splitlines() == ["Verdicts:", "  [supported] A ahead: d = 0.200 [0.100, 0.300]",
                                 "  [not testable] bit-rate trend: the sample has one rate"]
    md = S.verdicts_markdown(vs)
    assert md.count("\n") == 3 and "| bit-rate trend | not testable |" in md
    assert vs[0].to_dict()["interval"]["low"] == 0.1


def test_no_units_is_an_error():
    with pytest.raises(ValueError, match="at least one unit"):
        S.Resampler(0, unit="dev sequences")
