"""Exactly rounded sums of float arrays, independent of order and grouping.

``generate_h5.m`` centres and scales its data with ``mean(data(:))`` and ``std(data(:))``.
MATLAB's own summation order is not documented; here the sum of all elements is exact (kept as
an integer in units of ``2^-1126``, the smallest double's unit with room for the exponent
range) and rounded once, so the result does not depend on how the elements are split into
blocks, files or passes.
"""
from __future__ import annotations

import math

import numpy as np

_UNIT = 1126          # values are accumulated as integers in units of 2^-1126
_BLOCK = 1 << 16      # elements per vectorised step (fits in cache)


class ExactSum:
    """Exactly rounded sum of float64 values given in any order and grouping.

    Each value is split into its exponent and a 53-bit integer mantissa; mantissas are summed
    per exponent in float64 halves small enough to stay exact, then combined in a Python
    integer. :meth:`value` rounds the exact total to the nearest double (ties to even). NaN and
    infinities propagate as IEEE addition would (NaN, or +-Inf); a sum of negative zeros only
    is -0, any other exact zero +0, as in IEEE addition.
    """

    def __init__(self):
        self._total = 0
        self._special = None
        self._negzero = None          # None: nothing added; True: only -0.0 so far

    def add(self, values, times=1):
        """Add every element of ``values`` (``times`` times: a non-negative integer)."""
        a = np.asarray(values, dtype=np.float64).reshape(-1)
        if times == 0 or a.size == 0:
            return
        if self._negzero is not False:
            self._negzero = not np.any(a) and bool(np.all(np.signbit(a)))
        finite = np.isfinite(a)
        if not finite.all():
            bad = a[~finite]
            with np.errstate(invalid="ignore"):
                s = float(np.sum(bad))
            self._special = s if self._special is None else self._special + s
            a = a[finite]
        total = 0
        for start in range(0, a.size, _BLOCK):
            total += _block_sum(a[start:start + _BLOCK])
        self._total += total * int(times)

    def value(self):
        """The sum, rounded once to double."""
        if self._special is not None:
            return self._special
        if self._negzero:
            return -0.0
        try:
            return self._total / (1 << _UNIT)
        except OverflowError:
            return math.inf if self._total > 0 else -math.inf


def _block_sum(a):
    """Exact sum of a block (at most 2^24 finite values) as an integer in units of 2^-1126."""
    if a.size == 0:
        return 0
    m, e = np.frexp(a)
    m *= 9007199254740992.0            # 2^53: |m| < 2^53, an exact integer
    mant = m.astype(np.int64)
    lo = mant & ((1 << 26) - 1)       # low 26 bits, in [0, 2^26)
    mant >>= 26                       # high part, floor division: |hi| <= 2^27
    e0 = int(e.min())
    e -= e0
    # float64 bin sums stay exact: at most 2^24 terms of at most 2^27 in magnitude
    hi_sums = np.bincount(e, weights=mant)
    lo_sums = np.bincount(e, weights=lo)
    total = 0
    for i in np.flatnonzero((hi_sums != 0) | (lo_sums != 0)).tolist():
        total += ((int(hi_sums[i]) << 26) + int(lo_sums[i])) << (e0 + i - 53 + _UNIT)
    return total


def exact_sum(values):
    """The exactly rounded sum of ``values`` (float64)."""
    acc = ExactSum()
    acc.add(values)
    return acc.value()
