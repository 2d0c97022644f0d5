"""Threads for a pass (an inference forward, a training iteration) while other processes share
our cores: measured (the figures: docs/threads.md, 'Niced neighbours, measured').

A busy neighbour at a positive nice value is not a held core (:mod:`.threads`), but a thread
woken on its core is scheduled late and every operator waits for it; which count pays
depends on the work per operator and the scheduler, so it is measured per net and input
shape, only while such work is there (:func:`caffe_compat.parallel.threads.niced_neighbours`;
on an idle machine nothing here runs):

- candidates: the usable count and that count less the cores the niced work took (at least
  1); the first trial runs the smaller count first (its cost is bounded);
- while other processes hold cores (nice 0 or below), the candidates are the usable count
  and :func:`caffe_compat.parallel.threads.crowded_count`: the usable count for a first hold
  (:data:`HOLD_PASSES` passes and :data:`HOLD_SECONDS`), then the crowded count's trial; its
  cost is bounded, so it is kept when its mean pass is faster at all (:data:`CROWDED_MARGIN`);
- a trial runs :data:`TRIAL_PASSES` passes on a candidate, not counting the first pass after
  a change of count, nor a pass after a gap unless the pass before it came after a gap too
  (gaps are then the program's rhythm); the larger count is kept only when its mean pass is
  :data:`MARGIN` times faster (its passes are placed one thread per CPU, :mod:`.placement`);
- the faster is kept for :data:`HOLD_PASSES` passes and :data:`HOLD_SECONDS` seconds, both
  doubled for each trial the larger count lost after the first in a row (up to
  :data:`MAX_BACKOFF` doublings), then the other is tried again; sooner when the mean of its
  last :data:`REGRET_PASSES` passes exceeds the other's score by :data:`REGRET`: then the
  other is kept, measured anew.

Threads only change how work is split: the outputs are the same bits with either count."""
from __future__ import annotations

import math
import time

TRIAL_PASSES = 3         # counted passes of a candidate per trial
HOLD_PASSES = 32         # passes on the faster count before the other is tried again ...
HOLD_SECONDS = 2.0       # ... and seconds: a trial costs at most a few percent of a pass's time
MAX_BACKOFF = 3          # at most 8x the hold after trials the larger count lost in a row
KEEP = 5                 # recent pass times kept per count
GAP_SECONDS = 0.05       # a pass after a longer gap (and longer than itself) is not counted
# the larger count is kept only when its mean pass is this much faster (a mean of three passes
# moves by about a tenth between trials; the smaller count's cost is bounded by the larger
# one's idle speed-up); a kept count that slows down gives way by REGRET
MARGIN = 1.15
# the crowded count is kept when its mean pass is this much faster than the usable count's:
# none, since its cost is bounded and a kept count that slows gives way by REGRET (figures:
# docs/threads.md, "Figures behind the constants")
CROWDED_MARGIN = 1.0
REGRET = 1.15            # the kept count's recent mean over the other's score: the other is kept
REGRET_PASSES = 3        # ... over its last passes


class PassChoice:
    """The thread count of one kind of pass (a net at one input shape), from the measured
    times of its passes (see the module doc); ``clock`` is injectable for tests."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.times = {}          # count -> recent pass times (seconds)
        self.trial = []          # counts of the passes queued for a trial
        self.best = None
        self.hold_passes = 0
        self.hold_until = 0.0
        self.losses = 0          # trials in a row the larger count lost
        self.last_count = None
        self.skip = False        # the pass after a change of count is not counted
        self.last_end = None
        self.after_gap = False   # the last pass came after a gap (see record)
        self.deciding = False    # a trial is under way: its end decides
        self.candidates = ()
        self.crowded = False     # the candidates are (crowded count, usable count)

    def count(self, usable, niced, crowded=0):
        """The count for the next pass: ``usable`` (the threads the cores allow) unless
        ``niced`` (cores other processes' niced work took, 0 when there is none) makes a
        smaller count measure faster, or ``crowded`` (more threads than cores, while other
        processes hold some: :func:`caffe_compat.parallel.threads.crowded_count`; 0 when
        none) a larger one."""
        if niced > 0 and usable > 1:
            fewer = max(1, usable - max(1, math.ceil(niced - 0.5)))
            if fewer == usable:
                return self._use(usable)
            candidates, crowded_pair = (usable, fewer), False
        elif crowded > usable:
            candidates, crowded_pair = (crowded, usable), True
        else:
            return self._use(usable)
        if candidates != self.candidates:           # new counts: measure both from scratch
            self.candidates, self.times, self.best = candidates, {}, None
            self.crowded, self.losses = crowded_pair, 0
            if crowded_pair:
                # the usable count for a hold first, the crowded count's trial after it: a
                # program of a few passes never pays for a trial
                self.best, self.trial, self.deciding = usable, [], False
                self._hold()
                return self._use(usable)
            # the smaller count first: its cost is bounded, the larger one's is not
            self.trial = [c for c in reversed(candidates) for _ in range(TRIAL_PASSES + 1)]
            self.deciding = True
        if not self.trial and self.hold_passes <= 0 and self.clock() >= self.hold_until:
            other = candidates[1] if self.best == candidates[0] else candidates[0]
            self.times.pop(other, None)
            self.trial = [other] * (TRIAL_PASSES + 1)
            if not self.times.get(self.best):     # the kept count unmeasured yet: it too
                self.trial += [self.best] * (TRIAL_PASSES + 1)
            self.deciding = True
        if self.trial:
            return self._use(self.trial[0])
        self.hold_passes -= 1
        return self._use(self.best)

    def _use(self, n):
        self.skip = n != self.last_count
        self.last_count = n
        return n

    def _score(self, n):
        """The mean of the recent passes on ``n`` threads (a throughput: a pass that waited
        long counts in full), the larger count's times :data:`MARGIN`, or for the crowded
        count :data:`CROWDED_MARGIN` (its cost is bounded)."""
        kept = self.times[n]
        mean = sum(kept) / len(kept)
        if n == self.candidates[0]:        # the larger count
            return mean * (CROWDED_MARGIN if self.crowded else MARGIN)
        return mean

    def record(self, n, start, end):
        """A pass run on ``n`` threads (as :meth:`count` said) from ``start`` to ``end``
        (``clock`` seconds). A pass after a gap longer than itself (and than
        :data:`GAP_SECONDS`) is not counted: other work ran before it (another library's
        threads, a data step), its threads were asleep, its caches cold. Unless the pass
        before it came after a gap too: then gaps are the program's rhythm (a decoder or a
        data step between every two forwards), every candidate is measured in it, and
        without counting them no trial would ever end."""
        seconds = end - start
        gap = self.last_end is not None and start - self.last_end > max(GAP_SECONDS, seconds)
        self.last_end = end
        rhythm = gap and self.after_gap
        self.after_gap = gap
        if gap and not rhythm:
            return                   # a trial pass stays queued, to be run again
        if self.trial and self.trial[0] == n:
            self.trial.pop(0)
        if not self.skip:
            kept = self.times.setdefault(n, [])
            kept.append(seconds)
            del kept[:-KEEP]
        self.skip = False
        if not self.trial and self.best == n and self.candidates and \
                self.hold_passes > 0 and len(self.times.get(n, ())) >= REGRET_PASSES:
            other = self.candidates[1] if n == self.candidates[0] else self.candidates[0]
            recent = self.times[n][-REGRET_PASSES:]
            if self.times.get(other) and \
                    sum(recent) / len(recent) > REGRET * self._score(other):
                # the kept count got slower than the other was: the other from now on
                # (its passes measure it anew; the first after the change is not counted)
                self.best = other
                self._hold()
                return
        if not self.trial and self.deciding and \
                all(self.times.get(c) for c in self.candidates):
            self.deciding = False         # a trial has ended: the faster is kept
            self.best = min(self.candidates, key=self._score)
            self.losses = self.losses + 1 if self.best == self.candidates[1] else 0
            self._hold()

    def _hold(self):
        """Keep ``best`` for the hold: :data:`HOLD_PASSES` passes and :data:`HOLD_SECONDS`
        seconds, doubled per trial the larger count lost in a row after the first."""
        scale = 1 << min(max(0, self.losses - 1), MAX_BACKOFF)
        self.hold_passes = HOLD_PASSES * scale
        self.hold_until = self.clock() + HOLD_SECONDS * scale


def choice_for(owner, key):
    """The :class:`PassChoice` of ``owner`` (a net) for passes of kind ``key`` (its input
    shapes), kept on the owner (at most 16 kinds)."""
    table = owner.__dict__.setdefault("_pass_choices", {})
    found = table.get(key)
    if found is None:
        if len(table) >= 16:
            table.clear()
        found = table[key] = PassChoice()
    return found
