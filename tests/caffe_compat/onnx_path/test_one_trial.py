"""One runtime trial in the package: :class:`caffe_compat.onnx_path.choice.Chosen` chooses among
onnxruntime, OpenVINO, OpenCV 5's reader (and torch, for ``caffe_compat.Net(engine="auto")``);
every path (cv2.dnn's torch-free path, the engines of ``EngineRunner`` that cv2.dnn runs in a
process that imported torch, the int8 forwards) calls it. A second chooser is a module that
times calls and picks the least: this scan fails where one appears outside the modules
named here. The sessions the trial chooses among are made in one module,
:mod:`caffe_compat.onnx_path.runtime`: a second scan fails where another makes one."""
import ast
import pathlib
import types

import caffe_compat

PACKAGE = pathlib.Path(caffe_compat.__file__).parent
# modules that time calls and take the least, and why each is not a second runtime trial
ALLOWED = {
    "onnx_path/choice.py": "the one runtime trial",
    "parallel/pass_choice.py": "chooses how a data pass runs in parallel, not a runtime",
    "inference/engines/report.py": "marks the fastest row of caffe-compat inspect --engines",
}
# the calls that make a runtime's session: onnxruntime's, OpenVINO's, OpenCV's ONNX reader
SESSION_CALLS = {"InferenceSession", "compile_model", "read_model", "readNetFromONNX"}


def _calls(path):
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call)]


def _name(func):
    return getattr(func, "id", None) or getattr(func, "attr", None)


def _timed_and_least(calls):
    """Whether the module calls ``perf_counter`` and ``min`` / ``sorted`` with a key."""
    timed = any(_name(c.func) == "perf_counter" for c in calls)
    least = any(_name(c.func) in ("min", "sorted") and any(k.arg == "key" for k in c.keywords)
                for c in calls)
    return timed and least


def test_no_second_chooser_in_the_package():
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if _timed_and_least(_calls(path)):
            found.add(path.relative_to(PACKAGE).as_posix())
    extra = found - set(ALLOWED)
    assert not extra, (f"{sorted(extra)} time calls and pick the fastest: choose with "
                       "caffe_compat.onnx_path.choice.Chosen instead")
    assert "onnx_path/choice.py" in found


def test_one_maker_of_runtime_sessions():
    """Only :mod:`caffe_compat.onnx_path.runtime` makes runtime sessions: the torch-free plans,
    ``Net(engine=...)``'s engines, the export's check and the int8 forwards take theirs
    there (pycaffe, ``caffe/``, included)."""
    found = set()
    for root in (PACKAGE, PACKAGE.parent / "caffe"):
        for path in root.rglob("*.py"):
            if any(_name(c.func) in SESSION_CALLS for c in _calls(path)):
                found.add(path.relative_to(PACKAGE.parent).as_posix())
    assert found == {"caffe_compat/onnx_path/runtime.py"}, (
        f"{sorted(found)} make runtime sessions: take them from caffe_compat.onnx_path.runtime")


def test_the_int8_forwards_choose_by_the_trial(monkeypatch):
    """:func:`caffe_compat.onnx_path.quantize.fastest` is the trial run at once."""
    from caffe_compat.onnx_path import choice, quantize
    clock = [0.0]
    monkeypatch.setattr(choice, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def session(seconds):
        def run(feed):
            clock[0] += seconds
            return [feed]
        return run
    got = quantize.fastest({"onnxruntime": session(0.004), "openvino": session(0.002)}, 1)
    assert got == "openvino"


def test_cv2_dnn_in_a_process_that_imported_torch_takes_the_same_trial(tmp_path, monkeypatch):
    """This process imported torch: cv2.dnn's default forward still runs the torch-free
    path's model on its runtime trial (before, the torch path's engines on another export)."""
    import sys

    import torch  # noqa: F401 - the process has imported torch
    from caffe_compat import dnn
    from caffe_compat.onnx_path import choice
    from tests.caffe_compat.onnx_path.helpers import lite_mode, scaled_error
    from tests.caffe_compat.onnx_path.test_path import _files
    assert "torch" in sys.modules
    text, model, x = _files(tmp_path)
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "TRIAL_S_PER_MB", 0.0)
    monkeypatch.delenv("CAFFE_COMPAT_ENGINE", raising=False)
    with lite_mode(None):                     # the default: auto, from the environment
        monkeypatch.delenv("CAFFE_COMPAT_TORCH_FREE", raising=False)
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        outs = [net.forward() for _ in range(40)]
    assert net.engine == "torch-free" and not net._runners
    (_, chosen), = net._torch_free._plans.values()
    assert isinstance(chosen, choice.Chosen) and chosen.decided
    for out in outs[1:]:
        # float32 in another summation order through two convolutions (test_path.py's TOL)
        assert scaled_error(out, outs[0]) <= 1e-5


def test_in_a_process_that_imported_torch_a_runtime_that_disagrees_leaves_the_trial(
        tmp_path, monkeypatch):
    """Where torch is imported, the trial checks each runtime's first outputs against our
    forward (the engines' trust check): one that differs is named in an EngineWarning and
    leaves; every answer stays within the bound."""
    import warnings

    import torch  # noqa: F401 - the process has imported torch
    from caffe_compat import dnn
    from caffe_compat.inference.engines import EngineWarning, TRUST_TOL
    from caffe_compat.onnx_path import choice, runtime
    from tests.caffe_compat.onnx_path.helpers import lite_mode, scaled_error
    from tests.caffe_compat.onnx_path.test_path import _files
    text, model, x = _files(tmp_path)
    bad = "openvino" if "openvino" in runtime.available() else "onnxruntime"
    made = runtime.tuned_session

    def tuned(name, *args, **kwargs):
        session = made(name, *args, **kwargs)
        if name != bad:
            return session
        return lambda feed: [a * 1.01 for a in session(feed)]     # 1e-2 of the scale off
    monkeypatch.setattr(runtime, "tuned_session", tuned)
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "TRIAL_S_PER_MB", 0.0)
    monkeypatch.delenv("CAFFE_COMPAT_ENGINE", raising=False)
    with lite_mode("auto"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        ref = net.forward()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outs = [net.forward() for _ in range(40)]
    assert any(issubclass(w.category, EngineWarning) and bad in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    (_, chosen), = net._torch_free._plans.values()
    assert chosen.decided and bad not in chosen.times
    for out in outs:
        assert scaled_error(out, ref) <= TRUST_TOL


def test_engine_defer_0_chooses_at_the_first_call_on_every_path(monkeypatch):
    """``CAFFE_COMPAT_ENGINE_DEFER=0`` is the one trial's rule, not one path's: the first
    call of a plan runs every runtime's turns on its input and answers on the winner."""
    from caffe_compat.onnx_path import choice
    made = []

    def make(name):
        made.append(name)
        return lambda feed: [name]
    monkeypatch.setenv(choice.ENV_DEFER, "0")
    chosen = choice.Chosen(lambda feed: ["first"], "first", ["other"], make, 0.0)
    out = chosen({"x": 1})
    assert chosen.decided and made == ["other"] and out in (["first"], ["other"])
    monkeypatch.setenv(choice.ENV_DEFER, "1")
    later = choice.Chosen(lambda feed: ["first"], "first", ["other"], make, 0.0)
    assert later({"x": 1}) == ["first"] and not later.decided
