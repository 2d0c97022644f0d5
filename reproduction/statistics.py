"""Intervals and verdicts for the reproduction's printouts.

Every figure the reproduction sets beside a paper's claim comes with a 95 % percentile
bootstrap interval, and every claim with a verdict decided by an interval:

- :class:`Resampler` draws, once per report, which units (development sequences, clips) each
  bootstrap replicate holds, so that every cell and every difference of one report is computed
  on the same draws (a difference between two models is paired over units). Where a model was
  trained with several seeds, each replicate also draws its seeds, independently per model
  (two seeds of two models are separate runs, not pairs).
- A *statistic* is any function ``statistic(units, seeds) -> float`` of the unit indices (and
  the seed indices, for a trained model) of one replicate, e.g. the CCC of the concatenated
  predictions of the drawn sequences, averaged over the drawn seeds. A statistic may also
  carry an attribute ``batch(unit_draws, seed_draws) -> values``, the same statistic on all
  replicates at once (``(resamples, units)`` and ``(resamples, seeds)`` or None; see
  :func:`unit_counts`), which is then used instead of calling it once per replicate.
- :func:`verdict_for_difference`, :func:`verdict_for_closeness` and :func:`not_testable` turn
  an interval into one of four verdicts: *supported* (the interval lies on the claimed side of
  zero, or within the closeness margin), *contradicted* (it lies on the other side, or wholly
  outside the margin), *inconclusive* (it straddles the boundary: the sample cannot tell), and
  *not testable* (the sample has no data for it, with the reason).

The percentile interval is the plain one (the 2.5th and 97.5th percentiles of the replicates);
with a few sequences it is wide, which is the point: it shows how little a small sample
decides.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["Interval", "Resampler", "Verdict", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE",
           "NOT_TESTABLE", "verdict_for_difference", "verdict_for_closeness", "not_testable",
           "format_verdicts", "verdicts_markdown", "unit_counts"]

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable"

RESAMPLES = 2000
LEVEL = 0.95

Statistic = Callable[[np.ndarray, Optional[np.ndarray]], float]


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap interval: ``estimate`` is the statistic on all units and
    seeds, ``low``/``high`` the percentile bounds over ``resamples`` replicates of ``unit``."""
    estimate: float
    low: float
    high: float
    level: float = LEVEL
    resamples: int = 0
    unit: str = ""

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval."""
        return not (self.low <= value <= self.high)

    def format(self, digits: int = 3) -> str:
        """``0.178 [0.101, 0.240]`` (``n/a`` for an undefined estimate)."""
        if not np.isfinite(self.estimate):
            return "n/a"
        f = f"{{:.{digits}f}}"
        return f"{f.format(self.estimate)} [{f.format(self.low)}, {f.format(self.high)}]"

    def to_dict(self) -> dict:
        return dict(estimate=_num(self.estimate), low=_num(self.low), high=_num(self.high),
                    level=self.level, resamples=self.resamples, unit=self.unit)


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


class Resampler:
    """The bootstrap draws of one report: ``resamples`` replicates of ``units`` units drawn
    with replacement, and, on request, of a model's seeds (see the module doc).

    ``seed`` fixes every draw, so a report prints the same intervals on every run.
    """

    def __init__(self, units: int, resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = 0, unit: str = "units"):
        if units < 1:
            raise ValueError(f"a bootstrap needs at least one unit ({unit}), got {units}")
        self.units, self.resamples, self.level, self.seed, self.unit = (
            units, resamples, level, seed, unit)
        self.unit_draws = np.random.default_rng(seed).integers(0, units, (resamples, units))

    def seed_draws(self, seeds: int, key: str) -> np.ndarray:
        """``(resamples, seeds)`` indices of a model's seeds, the same for the same ``key``
        (the model's name) in every call, independent between keys."""
        stream = np.random.default_rng([self.seed, zlib.crc32(key.encode("utf-8"))])
        return stream.integers(0, seeds, (self.resamples, seeds))

    def _replicates(self, statistic: Statistic, seeds: Optional[int], key: str):
        seed_draws = self.seed_draws(seeds, key) if seeds else None
        batch = getattr(statistic, "batch", None)
        if batch is not None:
            # a statistic may carry ``batch(unit_draws, seed_draws) -> (resamples,)``: every
            # replicate at once, on the same draws as the loop below would give it
            return np.asarray(batch(self.unit_draws, seed_draws), np.float64)
        values = np.empty(self.resamples)
        for b in range(self.resamples):
            values[b] = statistic(self.unit_draws[b],
                                  None if seed_draws is None else seed_draws[b])
        return values

    def _interval(self, estimate: float, values: np.ndarray, what: str) -> Interval:
        values = values[np.isfinite(values)]
        if not np.isfinite(estimate) or values.size < self.resamples // 2:
            return Interval(float("nan"), float("nan"), float("nan"), self.level,
                            self.resamples, what)
        tail = 100 * (1 - self.level) / 2
        low, high = np.percentile(values, [tail, 100 - tail])
        return Interval(float(estimate), float(low), float(high), self.level, self.resamples,
                        what)

    def _what(self, seeds):
        return f"{self.unit} x seeds" if seeds and seeds > 1 else self.unit

    def interval(self, statistic: Statistic, seeds: Optional[int] = None,
                 key: str = "") -> Interval:
        """The statistic on all units (and seeds) with its bootstrap interval. ``seeds``: how
        many seeds the model has (None: not a trained model, or one run); ``key``: the model's
        name, which fixes its seed draws."""
        everything = np.arange(self.units)
        estimate = statistic(everything, np.arange(seeds) if seeds else None)
        return self._interval(estimate, self._replicates(statistic, seeds, key),
                              self._what(seeds))

    def difference(self, first: Statistic, second: Statistic,
                   seeds: tuple = (None, None), keys: tuple = ("a", "b")) -> Interval:
        """``first - second`` with its interval, paired over units (both statistics see the
        same drawn units in each replicate), each model's seeds drawn on its own."""
        everything = np.arange(self.units)
        estimate = (first(everything, np.arange(seeds[0]) if seeds[0] else None)
                    - second(everything, np.arange(seeds[1]) if seeds[1] else None))
        values = (self._replicates(first, seeds[0], keys[0])
                  - self._replicates(second, seeds[1], keys[1]))
        return self._interval(estimate, values, self._what(max(seeds[0] or 0,
                                                                 seeds[1] or 0)))


def unit_counts(unit_draws: np.ndarray, units: int) -> np.ndarray:
    """``(resamples, units)``: how often each unit is drawn in each replicate (for a batched
    statistic that sums per-unit quantities: ``counts @ per_unit``)."""
    rows = np.repeat(np.arange(unit_draws.shape[0]), unit_draws.shape[1])
    counts = np.zeros((unit_draws.shape[0], units))
    np.add.at(counts, (rows, unit_draws.ravel()), 1.0)
    return counts


@dataclass(frozen=True)
class Verdict:
    """One claim of a paper and what the sample says of it."""
    claim: str
    status: str
    evidence: str = ""
    interval: Optional[Interval] = None
    reason: str = ""

    def line(self) -> str:
        """``[supported] HR ahead of LR-s at s=3: CCC(HR) - CCC(LR-3) = 0.26 [0.12, 0.39]``."""
        detail = self.evidence or self.reason
        if self.evidence and self.reason:
            detail = f"{self.evidence} ({self.reason})"
        return f"[{self.status}] {self.claim}" + (f": {detail}" if detail else "")

    def to_dict(self) -> dict:
        return dict(claim=self.claim, status=self.status, evidence=self.evidence,
                    reason=self.reason,
                    interval=None if self.interval is None else self.interval.to_dict())


def verdict_for_difference(claim: str, interval: Interval, what: str,
                           direction: int = +1, digits: int = 3) -> Verdict:
    """The claim "``what`` is above zero" (``direction`` +1) or "below zero" (-1): supported
    when the whole interval is on the claimed side of zero, contradicted when it is wholly on
    the other side, inconclusive when it holds zero."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    evidence = f"{what} = {interval.format(digits)}"
    if not np.isfinite(interval.estimate):
        return Verdict(claim, NOT_TESTABLE, evidence, interval,
                       "the statistic is undefined on this sample")
    low, high = interval.low * direction, interval.high * direction
    if direction < 0:
        low, high = high, low
    status = SUPPORTED if low > 0 else CONTRADICTED if high < 0 else INCONCLUSIVE
    return Verdict(claim, status, evidence, interval,
                   "the interval holds zero" if status == INCONCLUSIVE else "")


def verdict_for_closeness(claim: str, interval: Interval, what: str, margin: float,
                          digits: int = 3) -> Verdict:
    """The claim "``what`` is close to zero": supported when the whole interval lies within
    ``[-margin, margin]``, contradicted when it lies wholly outside it, inconclusive else."""
    evidence = f"{what} = {interval.format(digits)}, margin {margin:g}"
    if not np.isfinite(interval.estimate):
        return Verdict(claim, NOT_TESTABLE, evidence, interval,
                       "the statistic is undefined on this sample")
    if -margin <= interval.low and interval.high <= margin:
        status = SUPPORTED
    elif interval.low > margin or interval.high < -margin:
        status = CONTRADICTED
    else:
        status = INCONCLUSIVE
    return Verdict(claim, status, evidence, interval,
                   "the interval crosses the margin" if status == INCONCLUSIVE else "")


def not_testable(claim: str, reason: str) -> Verdict:
    """A claim this sample or run cannot test, with the reason (a measurement where there is
    one)."""
    return Verdict(claim, NOT_TESTABLE, reason=reason)


def format_verdicts(verdicts: Sequence[Verdict], title: str = "Verdicts") -> str:
    """The printout's block: a title line and one indented line per verdict."""
    return "\n".join([f"{title}:"] + [f"  {v.line()}" for v in verdicts])


def verdicts_markdown(verdicts: Sequence[Verdict]) -> str:
    """A Markdown table of the verdicts (claim, verdict, evidence)."""
    rows = ["| claim | verdict | evidence |", "|---|---|---|"]
    for v in verdicts:
        detail = "; ".join(x for x in (v.evidence, v.reason) if x)
        rows.append(f"| {v.claim} | {v.status} | {detail.replace('|', '/')} |")
    return "\n".join(rows)
