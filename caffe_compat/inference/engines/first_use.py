"""When ``engine="auto"`` gets ready to leave torch: after a net has shown it will run many
times, never at its first forward.

Getting an engine ready costs far more than a forward: the ONNX export, a session per engine
(onnxruntime's graph optimisation, OpenVINO's compilation) and the trust check. Measured on the
2-core machine, shared (``benchmarks/bench_one_shot.py`` has the whole programs): SqueezeNet 1.1
(4.9 MB of weights) 2.1 s against an 80 ms torch forward, GoogLeNet (28 MB) 4.5 s against
241 ms, ResNet-50 (102 MB) 14 s against 507 ms: 19 to 28 forwards, which the engines (40-60 %
of torch's time) earn back only after about 50 more. A program that calls ``forward()`` once or
a few times (OpenCV's samples do) would pay it all for nothing.

So each input shape and thread count of an auto runner goes through three stages:

1. **torch**: forwards run on torch and are counted (:class:`FirstUse`): calls and seconds;
2. **prepare**: once there were at least :data:`MIN_CALLS` of them and they took at least
   the estimated cost of getting the engines ready (:func:`prepare_estimate`: rent until the
   rent paid equals the price, the rule that never costs more than twice the best choice made
   knowing the future), the call runs on torch and then the export is made (or taken from the
   cache), the engines are checked against that call's own outputs, and a winner stored by an
   earlier process for these engines, shapes and threads is taken at once;
3. **trial**: otherwise the caller's own next forwards go to the trusted engines and torch in
   turn (the least tried first), each timed, until each has :data:`MIN_TURNS` turns (one
   twice as slow as the best leaves at once); the fastest turn wins and is stored beside the
   export, so the next process skips the trial.

Every forward answers with an engine whose outputs were checked against ours (within 1e-4 of
their scale), so the stages only move the last digits; ``$CAFFE_COMPAT_ENGINE`` (or
``DNN_BACKEND_OPENCV``) pins one engine for stable digits (docs/engines.md).
``$CAFFE_COMPAT_ENGINE_DEFER=0`` decides at the first forward instead (export, check and the
timing of :meth:`~caffe_compat.inference.engines.choose.EngineRunner._calibrate`), as before.
"""
from __future__ import annotations

import os

ENV_DEFER = "CAFFE_COMPAT_ENGINE_DEFER"
MIN_CALLS = 3               # torch forwards of a shape before the engines are considered
PREPARE_BASE_S = 1.0        # the estimate of getting the engines ready: a fixed part ...
PREPARE_S_PER_MB = 0.1      # ... and a part per MB of weights (see the module doc)
MIN_TURNS = 3               # timed forwards of each candidate in the trial
DROP_RATIO = 2.0            # a candidate this much slower than the best leaves the trial


def deferred():
    """True unless ``$CAFFE_COMPAT_ENGINE_DEFER`` is 0 (decide at the first forward)."""
    return os.environ.get(ENV_DEFER, "1").strip() != "0"


def weight_megabytes(net):
    """The parameter blobs' size in MB (what the export writes and the engines load)."""
    return sum(v.numel() * v.element_size() for v in net.caffe_state_dict().values()) / 1e6


def prepare_estimate(megabytes):
    """Seconds getting the engines ready is expected to take for ``megabytes`` of weights."""
    return PREPARE_BASE_S + PREPARE_S_PER_MB * megabytes


class FirstUse:
    """The stage of one input shape and thread count of an auto runner (module doc)."""

    def __init__(self, estimate_s):
        self.estimate_s = estimate_s
        self.calls = 0
        self.seconds = 0.0
        self.turns = None             # the trial: {engine: [seconds of each turn]}

    def ran_torch(self, seconds):
        self.calls += 1
        self.seconds += seconds

    def ready(self):
        """True when the torch forwards so far have earned the preparation."""
        return self.turns is None and self.calls >= MIN_CALLS and \
            self.seconds >= self.estimate_s

    def start_trial(self, names):
        self.turns = {n: [] for n in names}

    def next_turn(self):
        """The candidate to run the next forward: the least tried."""
        return min(self.turns, key=lambda n: len(self.turns[n]))

    def took(self, name, seconds):
        """Record a turn; the winner's name once the trial is over, else None."""
        self.turns[name].append(seconds)
        if any(len(v) < 1 for v in self.turns.values()):
            return None
        best = min(min(v) for v in self.turns.values())
        self.turns = {n: v for n, v in self.turns.items() if min(v) <= DROP_RATIO * best}
        if len(self.turns) > 1 and any(len(v) < MIN_TURNS for v in self.turns.values()):
            return None
        return min(self.turns, key=lambda n: min(self.turns[n]))

    def result(self):
        """What the trial found, in the form stored beside the export."""
        import statistics
        fastest = {n: min(v) for n, v in self.turns.items()}
        return {"engine": min(fastest, key=fastest.get), "seconds": fastest,
                "median_seconds": {n: statistics.median(v) for n, v in self.turns.items()},
                "measured": "trial"}
