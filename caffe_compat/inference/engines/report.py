"""What ``caffe-compat inspect --engines`` and ``caffe-compat time --engine`` print: for each
engine, whether it is installed (the pip command when not), whether it passes the
trust check on this net, and its time per forward beside torch's (alternating turns, each
after a pause). It reports; it does not choose (the one runtime trial:
:class:`caffe_compat.onnx_path.choice.Chosen`)."""
from __future__ import annotations

import statistics
import time
import warnings

import numpy as np

from ...onnx_path import runtime
from .choose import ENGINES, EngineRunner, known_engine
from .threads import engine_threads

PAUSE_S = 0.02               # libgomp's spin, OpenCV's and onnxruntime's end well within this


def probe_inputs(net, batch=1, seed=0):
    """Seeded uniform [-1, 1) float32 inputs of ``batch`` items at the deploy geometry."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in net.inputs:
        shape = list(net.blob_shape(name))
        if shape:
            shape[0] = batch
        out[name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return out


def engine_rows(net, engines=None, iterations=10, batch=1):
    """``[{engine, installed, version, verdict, ms, forwards}]``: each engine forced on
    ``net`` (a test-phase Net) for its default outputs, checked, then timed ``iterations``
    times in alternating turns; ``ms`` is the median milliseconds of a forward (None when it
    did not run), ``forwards`` how many were timed."""
    from ...export.onnx_export import default_outputs
    outputs = default_outputs(net)
    feed = probe_inputs(net, batch)
    rows, runs = [], {}
    for name in engines or ENGINES:
        installed = runtime.installed(known_engine(name))
        row = {"engine": name, "installed": installed, "ms": None,
               "version": runtime.version(name) if installed else None}
        rows.append(row)
        if not installed:
            row["verdict"] = f"not installed ({runtime.PIP.get(name, 'pip install ' + name)})"
            continue
        runner = EngineRunner(net, outputs, name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runner(feed)
        if runner.last_engine != name:
            row["verdict"] = "falls back to torch: " + "; ".join(
                str(w.message) for w in caught)[:300]
            continue
        row["verdict"] = "trusted" if name != "torch" else "reference"
        runs[name] = runner
    times = {n: [] for n in runs}
    for row in rows:
        row["forwards"] = max(1, int(iterations)) if row["engine"] in runs else 0
    for _ in range(max(1, int(iterations))):
        for n, runner in runs.items():
            time.sleep(PAUSE_S)
            t = time.perf_counter()
            runner(feed)
            times[n].append(time.perf_counter() - t)
    for row in rows:
        if row["engine"] in times:
            row["ms"] = statistics.median(times[row["engine"]]) * 1000
    return rows


def format_rows(rows, batch=1):
    """The table of :func:`engine_rows`, fastest trusted engine marked."""
    timed = [r for r in rows if r["ms"] is not None]
    best = min(timed, key=lambda r: r["ms"])["engine"] if timed else None
    threads = engine_threads()
    forwards = max((r.get("forwards", 0) for r in rows), default=0)
    timed_how = f", median of {forwards} forward{'s' * (forwards != 1)} each" if forwards else ""
    lines = [f"engines ({threads} thread{'s' * (threads != 1)}, batch {batch}{timed_how}):"]
    for r in rows:
        ms = f"{r['ms']:9.2f} ms" if r["ms"] is not None else " " * 12
        mark = "  <- fastest" if r["engine"] == best else ""
        lines.append(f"  {r['engine']:<12} {r['version'] or '-':<14.14} {ms}  {r['verdict']}"
                     f"{mark}")
    return "\n".join(lines)
