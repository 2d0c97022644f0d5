"""Which engine runs a forward: :class:`EngineRunner`.

``engine="auto"`` (the default of inference-only forwards): the fastest of the installed
engines that pass the trust check (:mod:`caffe_compat.onnx_path.trust`) for this net,
outputs, input shapes and thread count, torch included, chosen by the package's one runtime
trial (:class:`caffe_compat.onnx_path.choice.Chosen`). The first forwards of each shape run
on torch; only once a net has shown it will run many times (the trial's rule, with the
estimated cost of the export and the sessions: :func:`ready_estimate`) is it exported (or
taken from the cache), each engine checked against our forward on the caller's last input,
and the trusted ones tried on the next forwards. Trust verdicts and the winner are stored
beside the cached export (keyed by the engines' versions, the shapes and the thread count),
so a later process skips the trial. With ``$CAFFE_COMPAT_ENGINE_DEFER=0`` (and in
:meth:`EngineRunner.engine_for`) the choice is made at the first forward
(:meth:`~caffe_compat.onnx_path.choice.Chosen.now`).

``engine="torch" | "onnxruntime" | "openvino"`` forces one (still checked once; torch, with a
warning, when it fails or is not installed). ``$CAFFE_COMPAT_ENGINE`` overrides what the
program asks for. Caffe's exact summation order (``blas_order.INFERENCE``, ``--caffe-order``)
always runs on torch."""
from __future__ import annotations

import os
import threading

import numpy as np

from ...errors import CaffeCompatError, NetError
from ...onnx_path import runtime
from ...onnx_path.choice import ENV_DEFER, winner_key
from ...onnx_path import trust
from .threads import engine_threads

ENV_ENGINE = "CAFFE_COMPAT_ENGINE"
AUTO = "auto"
# the engines a program names: our forward, the reference, then the runtimes that run the
# net's export (their sessions: caffe_compat.onnx_path.runtime's, as the torch-free path's)
ENGINES = ("torch", "onnxruntime", "openvino")
# the estimate of getting the engines ready (export, sessions, trust check): a fixed part and
# a part per MB of weights (the measured costs: docs/engines.md, "Choosing")
READY_BASE_S = 1.0
READY_S_PER_MB = 0.1


def ready_estimate(net):
    """Seconds getting the engines ready is expected to take for ``net``'s weights: the
    torch forwards that pay as much rent come before the trial."""
    size = sum(v.numel() * v.element_size() for v in net.caffe_state_dict().values())
    return READY_BASE_S + READY_S_PER_MB * size / 1e6


def installed_engines():
    """The names of :data:`ENGINES` installed here."""
    return [n for n in ENGINES if runtime.installed(n)]


def known_engine(name):
    """``name``, an engine's or auto; a NetError with the known names otherwise."""
    if name != AUTO and name not in ENGINES:
        from ...diagnostics.suggest import did_you_mean
        hint = did_you_mean(name, ENGINES)
        raise NetError(f"unknown inference engine '{name}'" + (f"; {hint}" if hint else "")
                       + f" (engines: {', '.join(ENGINES)}, or 'auto')")
    return name


def requested_engine(engine=None):
    """The engine name asked for: ``$CAFFE_COMPAT_ENGINE`` if set, else ``engine`` (None:
    auto); a NetError for an unknown one."""
    return known_engine(str(os.environ.get(ENV_ENGINE) or engine or AUTO).strip().lower())


def torch_session(net, outputs):
    """``{input: array} -> [output arrays]`` on our own forward of ``net`` (the reference
    every engine is checked against), with torch's thread count."""
    import torch
    names = list(outputs)
    forward = getattr(net, "_forward_layers", net.forward)

    def run(feed):
        with torch.inference_mode():
            out = forward(blobs=names, keep_blobs=False,
                          **{k: torch.from_numpy(v) for k, v in feed.items()})
        return [out[n].numpy() for n in names]
    return run


def _shape_text(shapes):
    return ";".join(f"{n}={'x'.join(str(d) for d in s)}" for n, s in shapes)


def as_feed(inputs):
    """``{name: contiguous float32 array}`` from arrays or tensors."""
    out = {}
    for k, v in inputs.items():
        if hasattr(v, "detach"):
            v = v.detach().to("cpu").numpy()
        out[k] = np.ascontiguousarray(v, dtype=np.float32)
    return out


class EngineRunner:
    """Inference forwards of one test-phase :class:`~caffe_compat.Net` returning ``outputs``
    (blob names, in order), on the engine chosen for each input shape and thread count.

    ``runner(feed)``: ``feed`` maps input names to float32 arrays; returns the outputs as a
    list of arrays. ``torch_run`` replaces the torch reference's session (a callable of the
    same form; caffe_compat.dnn passes its own, which keeps per-layer timings).
    ``runner.last_engine`` names the engine of the last call."""

    feed = staticmethod(as_feed)      # (a forward's feed from arrays or tensors)

    def __init__(self, net, outputs, engine=None, torch_run=None):
        self.net = net
        self.outputs = list(outputs)
        self.request = requested_engine(engine)
        self._torch_run = torch_run
        self._export = None
        self._export_error = None
        self._export_inputs = None
        self._sessions = {}           # (engine, threads, shapes) -> callable
        self._runs = {}               # (threads, shapes) -> the callable answering them
        self._refused = set()         # engines that failed for this net (warned once)
        self._lock = threading.RLock()
        self.last_engine = None

    # ------------------------------------------------------------------ running
    def __call__(self, feed):
        shapes = self.shapes_of(feed)
        run = self._run_for(engine_threads(), shapes, feed)
        if getattr(run, "settled", True):
            out = run(feed)
            self.last_engine = run.runtime
        else:
            with self._lock:             # the trial's turns one at a time
                out = run(feed)
                self.last_engine = run.answered
        return out

    @staticmethod
    def shapes_of(feed):
        """The key of ``feed``'s input shapes (by name)."""
        return tuple((n, tuple(feed[n].shape)) for n in sorted(feed))

    def run_again(self, shapes, feed):
        """The outputs for ``feed`` of inputs ``shapes`` (:meth:`shapes_of`, worked out by the
        caller) where a forward of the same shapes ran before at the thread count of now and
        one engine answers them (the trial over); None otherwise (the caller then calls the
        runner, which decides)."""
        run = self._runs.get((engine_threads(), shapes))
        if run is None or not getattr(run, "settled", True):
            return None
        out = run(feed)
        self.last_engine = run.runtime
        return out

    def engine_for(self, feed):
        """The engine that runs ``feed`` (deciding it now if needed, which runs the net)."""
        shapes = self.shapes_of(feed)
        run = self._run_for(engine_threads(), shapes, feed)
        with self._lock:
            if not getattr(run, "decided", True):
                run.now(feed)
        return run.runtime

    def _run_for(self, threads, shapes, feed):
        """The callable answering inputs of ``shapes`` at ``threads`` threads: an engine
        asked for by name (checked now), or the trial of ``auto``
        (:class:`caffe_compat.onnx_path.choice.Chosen`, torch first)."""
        key = (threads, shapes)
        run = self._runs.get(key)
        if run is not None:
            return run
        with self._lock:
            run = self._runs.get(key)
            if run is not None:
                return run
            from ...kernels import blas_order
            if self.request != AUTO or blas_order.INFERENCE:
                trusted, _ = self._ready(feed, shapes, threads)
                run = self._fixed(trusted[0] if trusted else "torch", threads, shapes)
            else:
                run = self._trial(threads, shapes)     # ($CAFFE_COMPAT_ENGINE_DEFER=0: its
                #                                        first call runs the trial's turns)
            self._runs[key] = run
        return run

    def _fixed(self, name, threads, shapes):
        session = self._session(name, threads, shapes)
        run = session if name == "torch" else self._fed_only(session)
        run.runtime = name
        return run

    def _fed_only(self, session):
        """``session`` taking a feed of every input: it gets those the export reads."""
        inputs = list(self._export_inputs)

        def run(feed):
            return session({k: feed[k] for k in inputs})
        return run

    def _trial(self, threads, shapes):
        """The trial of this shape: torch answers (each call's input and outputs kept, the
        reference of the trust check) until the trial's rule starts it."""
        from ...onnx_path.choice import Chosen
        torch_run, last, winner = self._session("torch", threads, shapes), [], []

        def reference(feed):
            out = torch_run(feed)
            last[:] = [feed, out]
            return out

        def others():
            feed, out = last
            trusted, key = self._ready(feed, shapes, threads, out)
            winner[:] = [key]
            best = self._export.decisions().get(key) if trusted else None
            if best is not None and best.get("engine") in ["torch"] + trusted:
                chosen.settle(best["engine"])
            return trusted

        def decided(name, times):
            if self._export is not None and winner and winner[0] is not None:
                self._export.record(winner[0], {"engine": name, "seconds": times,
                                                "measured": "trial"})

        chosen = Chosen(reference, "torch", others,
                        lambda name: self._fed_only(self._session(name, threads, shapes)),
                        0.0, limit=ready_estimate(self.net), decided=decided)
        return chosen

    def _session(self, name, threads, shapes):
        key = (name, threads, shapes if name == "openvino" else None)
        sess = self._sessions.get(key)
        if sess is None:
            if name == "torch":
                sess = self._torch_run or torch_session(self.net, self.outputs)
            else:
                if not os.path.exists(self._export.path):
                    # evicted by another process (the cache's size bound): written again
                    from .cache import cached_export
                    self._export = cached_export(self.net, self.outputs)
                with open(self._export.path, "rb") as f:
                    model = f.read()
                inputs = list(self._export_inputs)      # OpenVINO's shapes, fixed per session
                sess = runtime.tuned_session(name, model, inputs, self.outputs, threads,
                                             {k: s for k, s in shapes if k in inputs})
            self._sessions[key] = sess
        return sess

    # ------------------------------------------------------------------ choosing
    def _candidates(self):
        from ...kernels import blas_order
        if blas_order.INFERENCE or self.request == "torch":
            return []
        if self.request != AUTO:
            if not runtime.installed(self.request):
                if self.request not in self._refused:
                    self._refused.add(self.request)
                    trust.distrust(self.request, self.net.name, "its library is not installed "
                                   "(caffe-compat inspect --engines gives the pip command)",
                                   stacklevel=5)
                return []
            names = [self.request]
        else:
            names = installed_engines()[1:]
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

    def _ready(self, feed, shapes, threads, reference=None):
        """``(engines trusted to run inputs of shapes, key of the stored winner)``, where the
        inputs have the deploy geometry: the export made or found, each candidate checked
        against our forward on ``feed`` (``reference``: our outputs for it, when already
        computed) unless a verdict is stored."""
        candidates = self._candidates()
        if not candidates or not self._shapes_fit(shapes):
            return [], None
        if self._ensure_export() is None:
            for n in candidates:
                self._refused.add(n)
            trust.distrust(" / ".join(candidates), self.net.name,
                           f"the net does not export to ONNX ({self._export_error})",
                           stacklevel=5)
            return [], None
        if set(self._export_inputs) - set(feed):
            return [], None          # an input the export reads is not fed: torch fills zeros
        decisions = self._export.decisions()
        sig = _shape_text(shapes)
        trusted = []
        for name in candidates:
            tkey = f"trust|{name}|{runtime.version(name)}|{sig}"
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
                trust.distrust(name, self.net.name, verdict.get("why", "failed"), stacklevel=5)
        return trusted, winner_key(["torch"] + trusted, threads, sig)

    def _check(self, name, threads, shapes, feed, reference):
        """The trust verdict of engine ``name`` on ``feed``: ``{"ok": bool, "why": text,
        "error": worst scaled error}``."""
        try:
            sess = self._session(name, threads, shapes)
            got = self._fed_only(sess)(feed)
        except Exception as e:  # noqa: BLE001 - each engine raises its own types
            self._sessions.pop((name, threads, shapes if name == "openvino" else None), None)
            msg = " ".join(str(e).split())
            return {"ok": False, "why": f"it cannot run the export: {type(e).__name__}: "
                                        f"{msg[:400]}"}
        return trust.verdict(self.outputs, got, reference,
                             trust.set_outputs(self.net, self.outputs))


__all__ = ["EngineRunner", "requested_engine", "installed_engines", "torch_session", "as_feed",
           "ENV_ENGINE", "AUTO", "ENV_DEFER", "ENGINES"]
