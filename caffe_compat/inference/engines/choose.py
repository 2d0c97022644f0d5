"""Which engine runs a forward: :class:`EngineRunner`.

``engine="auto"`` (the default of inference-only forwards): the fastest of the installed
engines that pass the trust check (:mod:`caffe_compat.inference.engines.trust`) for this net,
outputs, input shapes and thread count, torch included. The first forwards of each shape run
on torch; only once a net has shown it will run many times are the engines made ready and
tried on the caller's own next forwards (:mod:`caffe_compat.inference.engines.first_use`), so a
program that runs a net once or a few times never pays for an export. Trust verdicts and the
winner are stored beside the cached export (keyed by the engines' versions, the shapes and the
thread count), so a later process skips the trial. With ``$CAFFE_COMPAT_ENGINE_DEFER=0`` (and
in :meth:`EngineRunner.engine_for`) the choice is made at the first forward instead, by a short
calibration: the candidates run the caller's input in alternating turns (each after a pause
long enough for the previous one's threads to go idle, as ``benchmarks/zoo_timing.py``) for
about :data:`CALIBRATION_S` seconds (at least :data:`MIN_ROUNDS` turns; one twice as slow as
the best so far leaves early), and the lowest time of a turn wins (other processes only add
time to a turn: on a busy machine the minimum ranks engines better than the median).

``engine="torch" | "onnxruntime" | "openvino"`` forces one (still checked once; the torch
path runs, with a warning, when it fails or is not installed). ``$CAFFE_COMPAT_ENGINE``
overrides what the program asks for (the person running it decides, as with
``OMP_NUM_THREADS``). Caffe's exact summation order (``blas_order.INFERENCE``,
``--caffe-order``) always runs on torch: only our own kernels follow it.
"""
from __future__ import annotations

import os
import statistics
import threading
import time

import numpy as np

from ...errors import CaffeCompatError
from . import first_use, registry, trust
from .threads import engine_threads

ENV_ENGINE = "CAFFE_COMPAT_ENGINE"
AUTO = "auto"
CALIBRATION_S = 0.4          # timing budget of a calibration (at least MIN_ROUNDS rounds)
MIN_ROUNDS = 3
DROP_RATIO = 2.0             # candidates this much slower than the best leave the calibration
PAUSE_S = 0.02               # libgomp's spin, OpenCV's and onnxruntime's end well within this


def requested_engine(engine=None):
    """The engine name asked for: ``$CAFFE_COMPAT_ENGINE`` if set, else ``engine`` (None:
    auto); a NetError for an unknown name."""
    name = os.environ.get(ENV_ENGINE) or engine or AUTO
    name = str(name).strip().lower()
    if name != AUTO:
        registry.engine_class(name)          # unknown names raise here, with the known ones
    return name


def _shape_text(shapes):
    return ";".join(f"{n}={'x'.join(str(d) for d in s)}" for n, s in shapes)


class EngineRunner:
    """Inference forwards of one test-phase :class:`~caffe_compat.Net` returning ``outputs``
    (blob names, in order), on the engine chosen for each input shape and thread count.

    ``runner(feed)``: ``feed`` maps input names to float32 arrays; returns the outputs as a
    list of arrays. ``torch_run`` replaces the torch reference's session (a callable of the
    same form; caffe_compat.dnn passes its own, which keeps per-layer timings).
    ``runner.last_engine`` names the engine of the last call.
    """

    def __init__(self, net, outputs, engine=None, torch_run=None):
        self.net = net
        self.outputs = list(outputs)
        self.request = requested_engine(engine)
        self._torch_run = torch_run
        self._export = None
        self._export_error = None
        self._export_inputs = None
        self._sessions = {}           # (engine, threads, shapes) -> callable
        self._chosen = {}             # (threads, shapes) -> engine name
        self._refused = set()         # engines that failed for this net (warned once)
        self._stages = {}             # (threads, shapes) -> FirstUse, until chosen
        self._trial_key = {}          # (threads, shapes) -> where the trial's winner is stored
        self._megabytes = None
        self._lock = threading.RLock()
        self.last_engine = None

    # ------------------------------------------------------------------ running
    def __call__(self, feed):
        shapes = tuple((n, tuple(feed[n].shape)) for n in sorted(feed))
        threads = engine_threads()
        name = self._chosen.get((threads, shapes))
        if name is None and self.request == AUTO and first_use.deferred():
            return self._first_use(feed, shapes, threads)
        if name is None:
            with self._lock:             # one decision (export, check, timing) at a time
                name = self._chosen.get((threads, shapes)) or \
                    self._choose(feed, shapes, threads)
                self._chosen[(threads, shapes)] = name
        self.last_engine = name
        return self._session(name, threads, shapes)(self._feed_for(name, feed))

    def _first_use(self, feed, shapes, threads):
        """An auto forward before the engine is chosen: torch, then the preparation, then
        the trial (:mod:`caffe_compat.inference.engines.first_use`)."""
        from ...kernels import blas_order
        key = (threads, shapes)
        if blas_order.INFERENCE:           # Caffe's order: only torch follows it
            self._chosen[key] = self.last_engine = "torch"
            return self._session("torch", threads, shapes)(feed)
        with self._lock:
            state = self._stages.get(key)
            if state is None:
                if self._megabytes is None:
                    self._megabytes = first_use.weight_megabytes(self.net)
                state = self._stages[key] = first_use.FirstUse(
                    first_use.prepare_estimate(self._megabytes))
            name = "torch" if state.turns is None else state.next_turn()
        self.last_engine = name
        t = time.perf_counter()
        out = self._session(name, threads, shapes)(self._feed_for(name, feed))
        took = time.perf_counter() - t
        with self._lock:
            if key in self._chosen:
                return out
            if state.turns is None:
                state.ran_torch(took)
                if state.ready():
                    self._prepare(state, key, feed, out)
            else:
                best = state.took(name, took)
                if best is not None:
                    self._chosen[key] = best
                    self._stages.pop(key, None)
                    skey = self._trial_key.pop(key, None)
                    if skey is not None and self._export is not None:
                        self._export.record(skey, state.result())
        return out

    def _prepare(self, state, key, feed, reference):
        """Export, check the engines against ``reference`` (torch's outputs for ``feed``),
        then take the stored winner or start the trial."""
        threads, shapes = key
        candidates = self._candidates()
        if not candidates or not self._shapes_fit(shapes):
            self._chosen[key] = "torch"
            return
        trusted, decisions, skey = self._trusted(candidates, feed, shapes, threads, reference)
        if not trusted:
            self._chosen[key] = "torch"
            return
        best = decisions.get(skey)
        if best is not None and best.get("engine") in ["torch"] + trusted:
            self._chosen[key] = best["engine"]
            return
        self._trial_key[key] = skey
        state.start_trial(["torch"] + trusted)

    def engine_for(self, feed):
        """The engine that runs ``feed`` (deciding it now if needed, which runs the net)."""
        shapes = tuple((n, tuple(feed[n].shape)) for n in sorted(feed))
        threads = engine_threads()
        with self._lock:
            if (threads, shapes) not in self._chosen:
                self._chosen[(threads, shapes)] = self._choose(feed, shapes, threads)
        return self._chosen[(threads, shapes)]

    def _feed_for(self, name, feed):
        if name == "torch" or self._export_inputs is None:
            return feed
        return {k: feed[k] for k in self._export_inputs}

    def _session(self, name, threads, shapes):
        key = (name, threads, shapes if name == "openvino" else None)
        sess = self._sessions.get(key)
        if sess is None:
            if name == "torch":
                sess = self._torch_run or registry.engine_class("torch").session(
                    self.net, self.outputs)
            else:
                if not os.path.exists(self._export.path):
                    # evicted by another process (the cache's size bound): written again
                    from .cache import cached_export
                    self._export = cached_export(self.net, self.outputs)
                sess = registry.engine_class(name).session(
                    self._export.path, self.outputs, threads,
                    shapes={k: s for k, s in shapes if k in self._export_inputs})
            self._sessions[key] = sess
        return sess

    # ------------------------------------------------------------------ choosing
    def _candidates(self):
        from ...kernels import blas_order
        if blas_order.INFERENCE or self.request == "torch":
            return []
        if self.request != AUTO:
            cls = registry.engine_class(self.request)
            if not cls.installed():
                if self.request not in self._refused:
                    self._refused.add(self.request)
                    trust.distrust(self.request, self.net.name, "its library is not installed "
                                   "(caffe-compat inspect --engines gives the pip command)",
                                   stacklevel=5)
                return []
            names = [self.request]
        else:
            names = [n for n in registry.installed_engines() if n != "torch"]
        return [n for n in names if n not in self._refused]

    def _shapes_fit(self, shapes):
        """True when the fed inputs have the deploy geometry past the batch axis (what the
        export was written for)."""
        for name, shape in shapes:
            if name not in self.net.inputs:
                return False
            want = tuple(self.net.blob_shape(name))
            if len(shape) != len(want) or tuple(shape[1:]) != want[1:]:
                return False
        return True

    def _ensure_export(self):
        if self._export is not None or self._export_error is not None:
            return self._export
        from ...export.onnx_export import needed_layers
        from .cache import cached_export
        try:
            self._export_inputs = needed_layers(self.net, self.outputs)[1]
            self._export = cached_export(self.net, self.outputs)
        except (CaffeCompatError, ImportError, OSError) as e:
            self._export_error = e
        return self._export

    def _choose(self, feed, shapes, threads):
        candidates = self._candidates()
        if not candidates or not self._shapes_fit(shapes):
            return "torch"
        trusted, decisions, skey = self._trusted(candidates, feed, shapes, threads)
        if not trusted:
            return "torch"
        if self.request != AUTO:
            return trusted[0]
        best = decisions.get(skey)
        if best is None or best.get("engine") not in ["torch"] + trusted:
            best = self._calibrate(["torch"] + trusted, threads, shapes, feed)
            self._export.record(skey, best)
        return best["engine"]

    def _trusted(self, candidates, feed, shapes, threads, reference=None):
        """``(trusted engines, stored decisions, key of the stored winner)``: the export made
        or found, each candidate checked against our forward on ``feed`` (``reference``: our
        outputs for it, when already computed) unless a verdict is stored."""
        if self._ensure_export() is None:
            for n in candidates:
                self._refused.add(n)
            trust.distrust(" / ".join(candidates), self.net.name,
                           f"the net does not export to ONNX ({self._export_error})",
                           stacklevel=6)
            return [], {}, None
        if set(self._export_inputs) - set(feed):
            return [], {}, None      # an input the export reads is not fed: torch fills zeros
        decisions = self._export.decisions()
        sig = f"{_shape_text(shapes)}"
        trusted = []
        for name in candidates:
            cls = registry.engine_class(name)
            tkey = f"trust|{name}|{cls.version()}|{sig}"
            verdict = decisions.get(tkey)
            if verdict is None:
                if reference is None:
                    reference = self._session("torch", threads, shapes)(feed)
                verdict = self._check(name, threads, shapes, feed, reference)
                self._export.record(tkey, verdict)
            if verdict.get("ok"):
                trusted.append(name)
            else:
                self._refused.add(name)
                trust.distrust(name, self.net.name, verdict.get("why", "failed"), stacklevel=6)
        versions = ",".join(f"{n}={registry.engine_class(n).version()}"
                            for n in ["torch"] + trusted)
        return trusted, decisions, f"fastest|{versions}|threads={threads}|{sig}"

    def _check(self, name, threads, shapes, feed, reference):
        """The trust verdict of engine ``name`` on ``feed``: ``{"ok": bool, "why": text,
        "error": worst scaled error}``."""
        try:
            sess = self._session(name, threads, shapes)
            got = sess(self._feed_for(name, feed))
        except Exception as e:  # noqa: BLE001 - each engine raises its own types
            self._sessions.pop((name, threads, shapes if name == "openvino" else None), None)
            msg = " ".join(str(e).split())
            return {"ok": False, "why": f"it cannot run the export: {type(e).__name__}: "
                                        f"{msg[:400]}"}
        worst, err = trust.compare(self.net, self.outputs, got, reference)
        if not err <= trust.TRUST_TOL:
            return {"ok": False, "error": err,
                    "why": f"output '{worst}' differs from our forward by {err:.2g} of its "
                           f"scale (> {trust.TRUST_TOL:g})"}
        return {"ok": True, "error": err, "worst": worst}

    def _calibrate(self, names, threads, shapes, feed):
        """``{"engine": fastest, "seconds": {name: fastest turn}, "median_seconds": ...}``
        over alternating turns."""
        runs = {n: self._session(n, threads, shapes) for n in names}
        feeds = {n: self._feed_for(n, feed) for n in names}
        times = {n: [] for n in names}
        end = time.perf_counter() + CALIBRATION_S
        rounds = 0
        alive = list(names)
        while len(alive) > 1 and (rounds < MIN_ROUNDS or time.perf_counter() < end):
            for n in alive:
                time.sleep(PAUSE_S)
                t = time.perf_counter()
                runs[n](feeds[n])
                times[n].append(time.perf_counter() - t)
            rounds += 1
            # a candidate twice as slow as the best so far is out (big batches stay short)
            best = min(min(times[n]) for n in alive)
            alive = [n for n in alive if min(times[n]) <= DROP_RATIO * best]
        # the fastest turn of each: other processes only ever add time to a turn, so on a
        # busy machine the minimum of a few turns ranks engines better than their median
        fastest = {n: min(v) for n, v in times.items()}
        return {"engine": min(fastest, key=fastest.get), "seconds": fastest,
                "median_seconds": {n: statistics.median(v) for n, v in times.items()}}

    # ------------------------------------------------------------------ reporting
    def status(self):
        """``{engine: verdict}`` of the checks made so far in this process."""
        if self._export is None:
            return {}
        return self._export.decisions()


def run_outputs(runner, feed):
    """``runner(feed)`` as ``{output: array}``."""
    return dict(zip(runner.outputs, runner(feed)))


def as_feed(inputs):
    """``{name: contiguous float32 array}`` from arrays or tensors."""
    out = {}
    for k, v in inputs.items():
        if hasattr(v, "detach"):
            v = v.detach().to("cpu").numpy()
        out[k] = np.ascontiguousarray(v, dtype=np.float32)
    return out


__all__ = ["EngineRunner", "requested_engine", "run_outputs", "as_feed", "ENV_ENGINE", "AUTO"]
