"""``engine="auto"`` before its choice (the one runtime trial, caffe_compat.onnx_path.choice, driven
by caffe_compat.inference.engines.choose): the first forwards run on torch and export nothing;
once the net has shown repeated use the engines are checked and tried on the caller's own
forwards, the winner is stored, and the next runner takes it without a trial. Pinning an
engine gives the same bits in every process."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.inference.engines import (EngineRunner, EngineWarning, TRUST_TOL, choose,
                                            installed_engines)
from caffe_compat.onnx_path import choice
from caffe_compat.onnx_path import cache_store as store
from caffe_compat.onnx_path.trust import output_error
from tests.caffe_compat.inference.engines.test_engine_cache import TINY

pytest.importorskip("onnx")
ENGINES = [n for n in ("onnxruntime", "openvino") if n in installed_engines()]
if not ENGINES:
    pytest.skip("neither onnxruntime nor openvino is installed", allow_module_level=True)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))


def _feed(seed=0):
    return {"data": np.random.RandomState(seed).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)}


def _reference(net, feed):
    return EngineRunner(net, ["fc"], "torch")(feed)[0]


def test_first_forward_runs_on_torch_and_exports_nothing(engine_cache):
    net = Net(TINY, phase="test", seed=1)
    runner = EngineRunner(net, ["fc"], "auto")
    got = runner(_feed())[0]
    assert runner.last_engine == "torch"
    assert np.array_equal(got, _reference(net, _feed()))
    assert runner._export is None and store.entries(str(engine_cache)) == []


def test_engines_after_repeated_use_then_the_stored_winner(engine_cache, monkeypatch):
    """With the preparation estimated free, the engines are made ready after MIN_CALLS torch
    forwards, tried in turn on the caller's forwards (every answer within the trust bound),
    the winner stored; a second runner (a later process) takes it at its preparation."""
    monkeypatch.setattr(choose, "READY_BASE_S", 0.0)
    monkeypatch.setattr(choose, "READY_S_PER_MB", 0.0)
    net = Net(TINY, phase="test", seed=2)
    ref = _reference(net, _feed())
    runner = EngineRunner(net, ["fc"], "auto")
    ran = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineWarning)
        for _ in range(choice.MIN_CALLS + 2 * (1 + choice.TURNS) * (1 + len(ENGINES)) + 2):
            out = runner(_feed())[0]
            ran.append(runner.last_engine)
            # every stage answers within the trust bound of our forward
            assert output_error(out, ref) <= TRUST_TOL
    assert ran[:choice.MIN_CALLS] == ["torch"] * choice.MIN_CALLS
    assert set(ran[choice.MIN_CALLS:]) - {"torch"}, ran     # the engines were tried
    trial, = runner._runs.values()
    assert isinstance(trial, choice.Chosen) and trial.decided
    chosen = trial.runtime
    assert ran[-1] == chosen
    stored = [v for k, v in runner._export.decisions().items() if k.startswith("fastest|")]
    assert stored and stored[0]["engine"] == chosen and stored[0]["measured"] == "trial"
    later = EngineRunner(net, ["fc"], "auto")
    after = [(later(_feed()), later.last_engine)[1] for _ in range(choice.MIN_CALLS + 1)]
    assert after == ["torch"] * choice.MIN_CALLS + [chosen]


def test_preparation_waits_for_the_estimate(engine_cache, monkeypatch):
    """MIN_CALLS forwards are not enough when they took less than the preparation's
    estimated cost (up to TRIAL_CALLS of them)."""
    monkeypatch.setattr(choose, "READY_BASE_S", 3600.0)
    net = Net(TINY, phase="test", seed=3)
    runner = EngineRunner(net, ["fc"], "auto")
    for _ in range(choice.TRIAL_CALLS - 1):
        runner(_feed())
        assert runner.last_engine == "torch"
    assert runner._export is None


def test_no_deferral_decides_at_the_first_forward(engine_cache, monkeypatch):
    monkeypatch.setenv(choose.ENV_DEFER, "0")
    net = Net(TINY, phase="test", seed=4)
    runner = EngineRunner(net, ["fc"], "auto")
    runner(_feed())
    trial, = runner._runs.values()
    assert runner._export is not None and trial.decided


# ----------------------------------------------------------------------- pinned engines
_PROGRAM = r"""
import sys, numpy as np
from caffe_compat import dnn
from tests.caffe_compat.inference.engines.test_engine_cache import TINY
from caffe_compat import Net
from caffe_compat.io.caffemodel import caffemodel_bytes
net = Net(TINY, phase="test", seed=9)
cv = dnn.readNetFromCaffe(TINY.encode(), caffemodel_bytes(net.to_proto()))
x = np.random.RandomState(0).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
outs = []
for _ in range(int(sys.argv[2])):
    cv.setInput(x)
    outs.append(cv.forward().tobytes().hex())
print(outs[0] if len(set(outs)) == 1 else "DIFFERENT WITHIN THE PROCESS")
"""


def _pinned_run(how, threads, calls=2, cache=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               CAFFE_COMPAT_THREADS=str(threads))
    env.pop("CAFFE_COMPAT_ENGINE", None)
    if how != "auto":
        env["CAFFE_COMPAT_ENGINE"] = how
    if cache:
        env["CAFFE_COMPAT_ENGINE_CACHE"] = cache
    out = subprocess.run([sys.executable, "-c", _PROGRAM, how, str(calls)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


# processes of a few seconds each (importing torch): torch in the default pass, the other ways
# in the slow pass
@pytest.mark.parametrize("how", ["torch"] + [pytest.param(h, marks=pytest.mark.slow)
                                             for h in ENGINES])
def test_pinned_engine_gives_the_same_bits_in_every_process(how, tmp_path):
    """``CAFFE_COMPAT_ENGINE=NAME``: the same bits in every call and every process
    (docs/engines.md, 'Stable output'). Torch's at any thread count (its sums do not depend
    on it); an engine's at one fixed count (CAFFE_COMPAT_THREADS)."""
    counts = (1, 2) if how == "torch" else (1, 1)
    runs = [_pinned_run(how, t, cache=str(tmp_path / f"cache{i}"))
            for i, t in enumerate(counts)]
    assert "DIFFERENT" not in runs[0]
    assert runs[0] == runs[1]
