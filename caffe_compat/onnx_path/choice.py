"""Which runtime answers a torch-free plan's forwards once the plan has shown it keeps
running: the fastest of the installed runtimes on the same ONNX graph, measured on the
caller's own forwards. :class:`Chosen` is the package's one runtime trial: cv2.dnn's forwards,
``caffe_compat.Net(engine="auto")``'s engines (:mod:`caffe_compat.inference.engines.choose`)
and the int8 forwards (:func:`caffe_compat.onnx_path.quantize.fastest`) all choose through it
(``tests/caffe_compat/onnx_path/test_one_trial.py`` fails where a second chooser appears).

A plan (one input shape and set of outputs of a net) starts on the runtime
:func:`caffe_compat.onnx_path.runtime.choose` gives (the cheapest to load). Once it has run
:data:`MIN_CALLS` forwards and either :data:`TRIAL_CALLS` of them or forwards that took the
estimated cost of loading the others (:data:`TRIAL_BASE_S` + :data:`TRIAL_S_PER_MB` per MB of
weights: rent until the rent paid equals the price, never more than twice the cost of the
choice made knowing the future), the next forwards are the trial: each installed runtime
(onnxruntime, OpenVINO, OpenCV 5's reader) gets a session of the plan's graph with the shapes
fixed, answers one forward untimed and then :data:`TURNS` timed ones in a row (the plan's
first runtime first; turns in a row, since in alternation each runtime ran on the caches
another had just filled: docs/benchmarks.md); a runtime :data:`DROP` times slower than the
best so far leaves at once; where the two fastest are within :data:`CLOSE`, they take their
turns once more in the other order. The one with the fastest turn answers from then on.

Where another runtime's fastest turn came within :data:`LOOK_CLOSE` of the winner's, five
turns cannot tell them apart (at two threads on two cores one forward's time varies by 10-20 %
from block to block: docs/engines.md; and a machine shared with other tenants can run at
half its speed for seconds at a time, so a runtime's turns in a row may all meet such a
state: ``benchmarks/machine_states.py``), so the next forwards are a **second look**: each of
those runtimes takes :data:`LOOK_ROUNDS` blocks of :data:`LOOK_TURNS` timed forwards (at
least :data:`LOOK_BLOCK_S` of them), in turn and in the other order the next round, each
block after one untimed forward; a block's median forward is its time. The rounds pair the
runtimes' blocks: in each, a runtime's block against the others' of the same round (the
logarithm of its median less the round's mean logarithm), and the runtime whose median of
those over the rounds is the lowest answers from then on (a burst of the machine's noise
turns one round, not the choice; block medians rank runtimes as a net that keeps running
meets them, where the fastest single turn favours the runtime whose forwards vary most).
The net that keeps running gets :data:`LOOK_AGAIN` rounds more, one after
:data:`LOOK_AGAIN_S` seconds of its forwards and each next one after twice as long as the
one before (never more than :data:`LOOK_AGAIN_SHARE` of the forwards between them); each
round counts with the earlier ones, and the sessions of the other runtimes are let go after
the last.

Every runtime computes the same graph in float32: the outputs differ by the order of the sums
only (``tests/caffe_compat/conformance``). ``$CAFFE_COMPAT_TORCH_FREE_RUNTIME`` pins one
runtime (no trial), as does ``CAFFE_COMPAT_TORCH_FREE_CHOICE=0`` (the first runtime
throughout)."""
from __future__ import annotations

import math
import os
import sys
import time

ENV = "CAFFE_COMPAT_TORCH_FREE_CHOICE"
# 0: every path's trial runs its turns (and the second look's first rounds) at the first
# forward, on its input (Chosen.now)
ENV_DEFER = "CAFFE_COMPAT_ENGINE_DEFER"
MIN_CALLS = 3            # forwards of a plan before a trial is considered
TRIAL_CALLS = 32         # forwards after which the trial starts, however short they were
TRIAL_BASE_S = 0.5       # ... or once the forwards took this long (plus per MB of weights):
TRIAL_S_PER_MB = 0.02    # (the sessions' loading times: docs/engines.md)
TURNS = 5                # timed forwards of each runtime in the trial
DROP = 2.0               # a runtime this much slower than the best so far leaves the trial
CLOSE = 1.15             # two fastest runtimes within this ratio take their turns once more
LOOK_CLOSE = 1.5         # runtimes within this ratio of the winner's turn take the second look
LOOK_ROUNDS = 3          # the second look (within LOOK_CLOSE of the winner): blocks each
LOOK_TURNS = 8           # timed forwards of a block, and at least
LOOK_BLOCK_S = 0.02      # seconds of them (a net of a few hundred microseconds)
LOOK_AGAIN = 6           # rounds more of the second look, for a net that keeps running:
LOOK_AGAIN_S = 1.0       # the first after this many seconds of forwards, each next after twice
LOOK_AGAIN_SHARE = 0.1   # as long, and never more than this share of the forwards between


def debug(message, *args):
    """One debug line on the ``caffe_compat.onnx_path`` logger; nothing where the program never
    imported logging (no handler can then take it)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("caffe_compat.onnx_path").debug(message, *args)


def deferred():
    """True unless ``$CAFFE_COMPAT_ENGINE_DEFER`` is 0 (choose at the first forward)."""
    return os.environ.get(ENV_DEFER, "1").strip() != "0"


def enabled():
    """Whether plans go through a trial (off where a runtime is pinned or the switch is 0)."""
    from .runtime import ENV_RUNTIME
    return not os.environ.get(ENV_RUNTIME, "").strip() and \
        os.environ.get(ENV, "1").strip() not in ("0", "off", "false", "no")


class Chosen:
    """A plan's forwards (``chosen(feed) -> arrays``), on ``session`` of runtime ``name`` until
    the trial (module doc) names the fastest of it and ``others`` (runtime names, ``name``
    again included where its settings for a net that keeps running differ; or a callable
    giving them when the trial starts, which may :meth:`settle` instead).
    ``make(name)`` gives runtime ``name``'s session of the plan (or raises: that runtime
    stays out). ``megabytes``: the plan's weights, for the trial's estimate; ``limit``: the
    seconds of forwards before the trial instead (the estimated cost of getting the others
    ready). ``decided(runtime, times)`` is called once the trial has chosen. ``trust(runtime,
    outputs, feed)``: False where a runtime's outputs on the caller's ``feed`` (its first call)
    do not agree with our forward: it leaves the trial, and the first runtime answers that
    call.
    ``answered``: the runtime of the last forward before the choice (``runtime`` after it)."""

    def __init__(self, session, name, others, make, megabytes, limit=None, decided=None,
                 trust=None):
        self.session, self.runtime = session, name
        # (a callable giving them: looked for only when a trial starts)
        self._others, self._make = others, make
        self._limit = TRIAL_BASE_S + TRIAL_S_PER_MB * megabytes if limit is None else limit
        self._on_decide, self._trust, self._checked = decided, trust, set()
        self.calls, self.seconds = 0, 0.0
        # label -> [runtime, session, seconds of timed forwards (None: not run yet)]
        self._trial = None
        self.decided = False
        self.answered = name
        self.label = f"{name} (first)"      # the trial's label of the session that answers
        self.times = {}             # the trial's fastest turns by label, once decided
        self._first_pass = None     # {label: fastest turn} of the first pass, where rematched
        self._look = None           # the second look's turns to come: [(label, timed)]
        self._looking = None        # label -> (runtime, session, [[turns] per block])
        self._block = 0             # timed forwards of a block of the look
        self._again = 0             # forwards until its next round (0: none to come)
        self.looked = {}            # its median block median by label, once it has run
        self.rounds = 0             # the rounds of the look so far

    @property
    def settled(self):
        """True while one runtime answers every forward (the trial over, and no round of the
        second look under way)."""
        return self.decided and self._look is None

    def __call__(self, feed):
        if self.decided:
            if self._look is not None:
                return self._look_turn(feed)
            if self._again:                      # forwards until the next round of the look
                self._again -= 1
                if not self._again:
                    self._look_round()
            return self.session(feed)
        if self._trial is None and self.calls == 0 and not deferred():
            return self.now(feed)
        if self._trial is None:
            start = time.perf_counter()
            out = self.session(feed)
            self.calls += 1
            self.seconds += time.perf_counter() - start
            if self.calls >= MIN_CALLS and (self.calls >= TRIAL_CALLS or
                                            self.seconds >= self._limit):
                self._start()
            return out
        return self._turn(feed)

    def now(self, feed):
        """Choose now, on ``feed``: a forward on the first runtime, then the trial's turns
        and the second look's first :data:`LOOK_ROUNDS` rounds on the same input until one
        runtime is chosen (the outputs of the last forward returned: every runtime computes
        the same graph). The later rounds come as the net keeps running."""
        out = None
        if not self.decided and self._trial is None:
            out = self.session(feed)
            self._start()
        while not self.decided:
            out = self._turn(feed)
        while self._look is not None:
            out = self._look_turn(feed)
        return self.session(feed) if out is None else out

    def settle(self, name, again=False):
        """Answer on runtime ``name`` from now on, without a trial (a choice made before);
        ``again``: on a session made anew even where ``name`` is the first runtime's (the
        trial's label without ``(first)``: its settings for a net that keeps running)."""
        if again or name != self.runtime:
            self.session, self.runtime = self._make(name), name
        self.decided = True

    def _start(self):
        trial = {f"{self.runtime} (first)": [self.runtime, self.session, []]}
        others = self._others() if callable(self._others) else self._others
        if self.decided:                     # the callable settled (a choice made before)
            return
        for name in others:
            try:
                trial[name] = [name, self._make(name), None]
            except Exception as exc:                         # noqa: BLE001 - stays out
                debug("the trial leaves %s out (%s)", name, exc)
        self._trial = trial
        if len(trial) == 1:
            self._decide()

    def _turn(self, feed):
        trial = self._trial
        # the first runtime (in the trial's order) that has turns left: its turns in a row
        label = next(k for k, (*_, t) in trial.items() if t is None or len(t) < TURNS)
        self.answered, session, times = trial[label]
        start = time.perf_counter()
        out = session(feed)
        took = time.perf_counter() - start
        if times is None:
            trial[label][2] = []                 # the first call allocates: not timed
            if self._trust is not None and label not in self._checked and \
                    not label.endswith("(first)"):
                self._checked.add(label)
                if not self._trust(self.answered, out, feed):
                    del trial[label]
                    out, self.answered = self.session(feed), self.runtime
                    self._end_pass(trial)
            return out
        times.append(took)
        best = min(self._fastest(k, t) for k, (*_, t) in trial.items() if t)
        for other in list(trial):
            t = trial[other][2]
            if t and len(t) >= 2 and self._fastest(other, t) > DROP * best:
                self.times[other] = self._fastest(other, t)   # (reported, out of the running)
                del trial[other]
        self._end_pass(trial)
        return out

    def _end_pass(self, trial):
        """Decide where every runtime of ``trial`` has taken its turns (unless
        :meth:`_rematch` gives two of them another pass)."""
        if all(t is not None and len(t) >= TURNS for *_, t in trial.values()) and \
                not self._rematch(trial):
            self._decide()

    def _rematch(self, trial):
        """Once, where the two fastest runtimes' fastest turns lie within :data:`CLOSE` of
        each other: those two take their turns again in the other order (a runtime timed
        right after another can find that one's threads still spinning: onnxruntime's
        tuned sessions spin), and each keeps its fastest turn of both passes."""
        fastest = {k: min(t) for k, (*_, t) in trial.items()}
        if self._first_pass is not None or len(fastest) < 2:
            return False
        a, b = sorted(fastest, key=fastest.get)[:2]
        if fastest[b] > CLOSE * fastest[a]:
            return False
        self._first_pass = fastest
        self.times.update({k: v for k, v in fastest.items() if k not in (a, b)})
        self._trial = {k: [trial[k][0], trial[k][1], None] for k in reversed(trial)
                       if k in (a, b)}
        return True

    def _fastest(self, label, times):
        """The fastest of ``times``, the turns of ``label``, and of its first pass's turns
        where it takes a second (:meth:`_rematch`)."""
        return min(min(times), (self._first_pass or {}).get(label, float("inf")))

    def _decide(self):
        trial, self._trial = self._trial, None
        # the fastest of each runtime's turns: what the runtime takes when nothing else runs
        # (a turn that another process slowed says nothing about the runtime)
        fastest = {k: self._fastest(k, t) for k, (*_, t) in trial.items() if t}
        self.times.update(fastest)
        if fastest:
            label = min(fastest, key=fastest.get)
            self.runtime, self.session = trial[label][0], trial[label][1]
            self.label = label
        self.decided = True
        if self._on_decide is not None:
            self._on_decide(self.runtime, dict(self.times))
        debug("runtime chosen: %s (fastest turn in seconds %s)", self.runtime,
              {k: round(v, 6) for k, v in self.times.items()})
        if fastest:
            self._plan_look(trial, fastest, label)

    def _plan_look(self, trial, fastest, winner):
        """The second look's turns (module doc) where runtimes came within :data:`LOOK_CLOSE`
        of ``winner``: their sessions kept, the others let go."""
        close = [k for k in fastest if fastest[k] <= LOOK_CLOSE * fastest[winner]]
        if len(close) < 2 or LOOK_ROUNDS < 1:
            return
        self._looking = {k: (trial[k][0], trial[k][1], []) for k in close}
        self._block = max(LOOK_TURNS,
                          min(200, math.ceil(LOOK_BLOCK_S / max(fastest[winner], 1e-6))))
        self._look_round(LOOK_ROUNDS)

    def _look_round(self, rounds=1):
        """The turns of the look's next ``rounds``: each runtime a block (one untimed forward,
        then the block's timed ones), the order reversed every other round."""
        labels, look = list(self._looking), []
        for r in range(self.rounds, self.rounds + rounds):
            for label in (labels if r % 2 == 0 else labels[::-1]):
                look += [(label, False)] + [(label, True)] * self._block
        self.rounds += rounds
        self._look = look[::-1]                  # popped from the end

    def _look_turn(self, feed):
        try:
            label, timed = self._look.pop()
        except (AttributeError, IndexError):     # another thread took the round's last turn
            return self.session(feed)
        self.answered, session, blocks = self._looking[label]
        start = time.perf_counter()
        out = session(feed)
        if timed:
            blocks[-1].append(time.perf_counter() - start)
        else:                                    # a block starts after one untimed forward
            blocks.append([])
        if not self._look:
            self._end_look()
        return out

    def _end_look(self):
        """The runtime of the lowest median, over the rounds so far, of its block against the
        round's others answers from now on (``decided`` hears of it where it changed, or after
        the first rounds); the next round planned, or the others let go after the last."""
        import statistics
        looking, self._look = self._looking, None
        medians = {k: [max(statistics.median(b), 1e-9) for b in blocks if b]
                   for k, (_, _, blocks) in looking.items()}
        rounds = min(len(m) for m in medians.values())
        mean = [statistics.fmean(math.log(m[r]) for m in medians.values()) for r in range(rounds)]
        score = {k: statistics.median(math.log(m[r]) - mean[r] for r in range(rounds))
                 for k, m in medians.items()}
        self.looked = {k: statistics.median(m) for k, m in medians.items()}
        label = min(score, key=score.get)
        changed = label != self.label or self.rounds == LOOK_ROUNDS
        self.runtime, self.session, _ = looking[label]
        self.label, self.answered = label, self.runtime
        if changed and self._on_decide is not None:
            self._on_decide(self.runtime, dict(self.times))
        debug("second look, %d rounds: %s (median block median in seconds %s)", self.rounds,
              self.runtime, {k: round(v, 6) for k, v in self.looked.items()})
        if self.rounds >= LOOK_ROUNDS + LOOK_AGAIN:
            self._looking = None                 # the others' sessions let go
            return
        wait = LOOK_AGAIN_S * 2 ** (self.rounds - LOOK_ROUNDS) / self.looked[label]
        share = len(looking) * (1 + self._block) / LOOK_AGAIN_SHARE
        self._again = max(1, math.ceil(max(wait, share)))


def winner_key(runtimes, threads, shapes=None):
    """The name a stored trial winner goes by: the versions of ``runtimes`` (the ones it chose
    among), the thread count and, where one entry serves several, the input ``shapes``."""
    from .runtime import version
    versions = ",".join(f"{n}={version(n)}" for n in runtimes)
    return f"fastest|{versions}|threads={threads}" + (f"|{shapes}" if shapes else "")


def candidates(first):
    """The runtimes a trial tries beside the session of ``first`` it has: every installed one
    (OpenVINO too), ``first`` again where its settings for a net that keeps running differ
    (onnxruntime's: :func:`.runtime.tuned_session`)."""
    from .runtime import available
    found = list(available())
    return [n for n in found if n != first or n == "onnxruntime"]
