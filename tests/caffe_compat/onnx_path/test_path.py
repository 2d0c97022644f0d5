"""Which path a caffe_compat.dnn program takes, in processes of its own: the torch-free path
imports neither torch nor the onnx package; the switch forces either path; what the converters
do not reproduce goes to the torch path with the same answers."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat import onnx_path as lite

from .helpers import exact, lite_mode, scaled_error, seeded_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# float32 in another summation order through two convolutions (tests/caffe_compat/onnx_path:
# LAYER_TOL's reason)
TOL = 1e-5

TEXT = """name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "%s" type: "%s" bottom: "pool1" top: "out" %s }
"""
LAST = ("fc", "InnerProduct", "inner_product_param { num_output: 5 }")
# a loss (its second bottom given with the parameters): a type without a converter
UNCONVERTED = ("loss", "SigmoidCrossEntropyLoss", 'bottom: "pool1"')

PROGRAM = """
import json, sys
import numpy as np
from caffe_compat import dnn
net = dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
net.setInput(np.load(sys.argv[3]))
if len(sys.argv) > 4:
    net.setPreferableBackend(dnn.DNN_BACKEND_OPENCV)
out = net.forward()
print(json.dumps({"torch": "torch" in sys.modules, "onnx": "onnx" in sys.modules,
                  "path": "torch-free" if net._torch_free is not None else "torch",
                  "names": list(net.getUnconnectedOutLayersNames()),
                  "out": out.ravel().tolist(), "shape": list(out.shape)}))
"""


def _files(tmp_path, last=LAST):
    text = TEXT % last
    model = seeded_model(text, seed=5)
    (tmp_path / "deploy.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(model)
    x = np.random.default_rng(2).normal(0, 1, (1, 3, 12, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return text, model, x


def _run(tmp_path, env_value=None, importtime=False):
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop(lite.ENV, None)
    if env_value is not None:
        env[lite.ENV] = env_value
    env.pop("CAFFE_COMPAT_ENGINE", None)
    out = subprocess.run([sys.executable] + (["-X", "importtime"] if importtime else []) +
                         ["-c", PROGRAM, str(tmp_path / "deploy.prototxt"),
                          str(tmp_path / "w.caffemodel"), str(tmp_path / "x.npy")],
                         env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_a_one_shot_program_imports_no_torch(tmp_path):
    """The default (auto) path of a fresh process, and ``python -X importtime`` of it: no
    module of torch or of the onnx package is loaded."""
    text, model, x = _files(tmp_path)
    want = exact(text, model, {"data": x}, ["out"], tmp_path)["out"]
    got, log = _run(tmp_path, importtime=True)
    assert (got["torch"], got["onnx"], got["path"]) == (False, False, "torch-free")
    assert got["names"] == ["fc"]
    out = np.array(got["out"], np.float32).reshape(got["shape"])
    assert scaled_error(out, want) <= TOL
    modules = {line.split("|")[-1].strip() for line in log.splitlines()
               if line.startswith("import time:")}
    heavy = sorted(m for m in modules if m.split(".")[0] in ("torch", "onnx", "torchvision"))
    assert modules and not heavy, heavy


def test_the_switch_off_takes_the_torch_path(tmp_path):
    text, model, x = _files(tmp_path)
    want = exact(text, model, {"data": x}, ["out"], tmp_path)["out"]
    got, _ = _run(tmp_path, "0")
    assert got["path"] == "torch" and got["torch"]
    assert scaled_error(np.array(got["out"], np.float32).reshape(got["shape"]), want) <= TOL


def test_switch_values():
    for value, want in (("auto", "auto"), ("1", "on"), ("on", "on"), ("0", "off"),
                        ("off", "off")):
        with lite_mode(value):
            assert lite.mode() == want
    with lite_mode("sometimes"), pytest.raises(ValueError, match=lite.ENV):
        lite.mode()
    # auto: the torch-free path whether or not torch is imported (this process imported it)
    assert "torch" in sys.modules
    for value, want in (("auto", True), ("on", True), ("off", False)):
        with lite_mode(value):
            assert lite.enabled() == want


def test_a_layer_without_converter_takes_the_torch_path(tmp_path):
    from caffe_compat import dnn
    text, model, x = _files(tmp_path, UNCONVERTED)
    want = exact(text, model, {"data": x}, ["out"], tmp_path)["out"]
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    assert net._torch_free is None
    net.setInput(x)
    assert scaled_error(net.forward(), want) <= TOL


def test_the_opencv_backend_stays_torch_free(tmp_path):
    # DNN_BACKEND_OPENCV is OpenCV 4's default backend: the line tutorials write keeps the
    # torch-free path; the CUDA backend takes the torch path
    from caffe_compat import dnn
    text, model, x = _files(tmp_path)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setPreferableBackend(dnn.DNN_BACKEND_OPENCV)
        net.setInput(x)
        net.forward()
        assert not net._nets and net._torch_free.runtime is not None
        net.setPreferableBackend(dnn.DNN_BACKEND_CUDA)
        net.setInput(x)
        net.forward()
    assert net._nets                                    # the torch net answered


def test_set_param_moves_the_net_to_the_torch_path(tmp_path):
    from caffe_compat import dnn
    text, model, x = _files(tmp_path)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        before = net.forward()
        assert net._torch_free is not None
        w = net.getParam("fc", 0)
        net.setParam("fc", 0, w * 2)
        after = net.forward()
    assert net._torch_free is None
    bias = net.getParam("fc", 1).reshape(-1)
    # doubled weights: (after - bias) = 2 (before - bias), within float32 rounding of the sums
    assert scaled_error(after - bias, 2 * (before - bias)) <= TOL


def test_a_net_that_keeps_running_stays_torch_free_on_the_fastest_runtime(tmp_path,
                                                                          monkeypatch):
    """After MIN_CALLS forwards that took the trial's estimate (here 0 s), every installed
    runtime answers in turn, and the one with the fastest turn answers from then on; the
    outputs agree throughout and torch is never asked for."""
    from caffe_compat import dnn
    from caffe_compat.onnx_path import choice
    text, model, x = _files(tmp_path)
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "TRIAL_S_PER_MB", 0.0)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        outs = [net.forward() for _ in range(40)]
        assert net._torch_free is not None and net._torch_free.forwards == 40
    (_, chosen), = net._torch_free._plans.values()
    assert isinstance(chosen, choice.Chosen) and chosen.decided
    labels = set(chosen.times)
    assert len(labels) >= 2 and any(k.endswith("(first)") for k in labels)
    best = min(chosen.times, key=chosen.times.get)
    assert best.split(" ")[0] == chosen.runtime
    for out in outs[1:]:
        assert scaled_error(out, outs[0]) <= TOL


def test_a_pinned_runtime_has_no_trial(tmp_path, monkeypatch):
    from caffe_compat import dnn
    from caffe_compat.onnx_path import choice
    text, model, x = _files(tmp_path)
    monkeypatch.setenv(choice.ENV, "0")
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        for _ in range(40):
            net.forward()
    (_, session), = net._torch_free._plans.values()
    assert not isinstance(session, choice.Chosen)


def test_a_bad_definition_is_reported_at_the_forward():
    """A net that fails at its declared shapes is read (they may be a placeholder, as in
    OpenCV); the forward at those shapes goes to the torch path, whose error names the layer
    and its line."""
    from caffe_compat import NetError, dnn
    text = ('name: "bad"\nlayer { name: "data" type: "Input" top: "data" input_param { '
            'shape { dim: 1 dim: 3 dim: 6 dim: 6 } } }\n'
            'layer { name: "a" type: "Pooling" bottom: "data" top: "a" pooling_param { '
            'pool: MAX kernel_size: 2 stride: 2 } }\n'
            'layer { name: "c" type: "Concat" bottom: "data" bottom: "a" top: "c" }\n')
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode())
        net.setInput(np.zeros((1, 3, 6, 6), np.float32))
        with pytest.raises(NetError, match=r"<bufferProto>:4:.*'c'"):
            net.forward()


def _fake_cv2(version):
    import types
    return types.SimpleNamespace(__version__=version,
                                 dnn=types.SimpleNamespace(readNetFromONNX=None))


@pytest.mark.parametrize("version, weight_bytes, env, want", [
    ("5.0.0", 5 << 20, "", "opencv"),              # a small net where OpenCV 5 is imported
    ("5.0.0", 100 << 20, "", "onnxruntime"),       # a large net: onnxruntime's forward
    ("4.14.0", 5 << 20, "", "onnxruntime"),        # OpenCV 4's reader is not used
    ("5.0.0", None, "", "onnxruntime"),            # the size not known
    ("5.0.0", 5 << 20, "onnxruntime", "onnxruntime"),   # the switch decides
])
def test_small_nets_run_on_the_imported_opencv5_reader(monkeypatch, version, weight_bytes, env,
                                                       want):
    """Where a cv2.dnn program has imported OpenCV 5, a net of at most SMALL_NET_BYTES of
    weights runs on its reader (no onnxruntime import); otherwise the first installed."""
    from caffe_compat.onnx_path import runtime
    monkeypatch.setitem(sys.modules, "cv2", _fake_cv2(version))
    monkeypatch.setattr(runtime, "available", lambda: ["onnxruntime", "opencv"])
    monkeypatch.setenv(runtime.ENV_RUNTIME, env)
    assert runtime.choose(weight_bytes) == want


def test_a_program_that_reads_a_net_and_never_runs_it_exits_cleanly(tmp_path):
    """The session started at read time (caffe_compat.onnx_path.early) is joined at exit: a program
    that reads a net and exits at once ends with status 0 (a thread left inside the runtime's
    reader would abort the process)."""
    _files(tmp_path)
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop(lite.ENV, None)
    program = ("import sys\nfrom caffe_compat import dnn\n"
               "net = dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])\n"
               "print(net._torch_free is not None)\n")
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path / "deploy.prototxt"),
                          str(tmp_path / "w.caffemodel")], env=env, capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_the_early_session_gives_its_result_or_its_error():
    from caffe_compat.onnx_path.early import EarlyCall
    assert EarlyCall(lambda a, b: a + b, 2, 3).result() == 5

    def refuse():
        raise ValueError("the runtime refused the model")

    with pytest.raises(ValueError, match="refused"):
        EarlyCall(refuse).result()


def test_a_session_that_fails_to_load_sends_the_net_to_the_torch_path(tmp_path, monkeypatch):
    """An error of the session started at read time is met at the first forward, as a session
    built there: the net goes to the torch path, which answers."""
    from caffe_compat import dnn
    from caffe_compat.onnx_path import runtime
    text, model, x = _files(tmp_path)
    want = exact(text, model, {"data": x}, ["out"], tmp_path)["out"]

    def refuse(*args):
        raise RuntimeError("cannot load")

    class Refused:                      # a session started at read time that failed
        result = staticmethod(refuse)

    monkeypatch.setattr(lite, "MODE", "on")
    monkeypatch.setattr(runtime, "session", refuse)
    monkeypatch.setattr(runtime, "start", lambda *a, **k: Refused())
    net = dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"), str(tmp_path / "w.caffemodel"))
    assert net._torch_free is not None
    net.setInput(x)
    out = net.forward()
    assert net._torch_free is None                  # the torch path from now on
    assert scaled_error(out, want) <= TOL


def test_opencv_reads_the_model_from_a_private_file_it_removes(tmp_path, monkeypatch):
    """OpenCV's reader copies a buffer argument holding the GIL (the caller's thread stopped
    meanwhile) and reads a file without it: the model goes to a private temporary file,
    removed after the read; a buffer where no folder takes the file."""
    import cv2

    from caffe_compat.onnx_path import onnx_wire, runtime
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    w = np.ones((2, 3, 1, 1), np.float32)
    pieces = onnx_wire.model_pieces(
        "g", [onnx_wire.node("Conv", ["x", "w"], ["y"], "c", {})],
        [onnx_wire.tensor("w", w)], [("x", (1, 3, 2, 2))], [("y", (1, 2, 2, 2))])
    assert b"".join(pieces) == onnx_wire.model(
        "g", [onnx_wire.node("Conv", ["x", "w"], ["y"], "c", {})],
        [onnx_wire.tensor("w", w)], [("x", (1, 3, 2, 2))], [("y", (1, 2, 2, 2))])
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    want = np.broadcast_to(x.sum(1), (1, 2, 2, 2))
    net = runtime._read_onnx(cv2, pieces)
    assert list(tmp_path.iterdir()) == []
    net.setInput(x)
    np.testing.assert_array_equal(net.forward(), want)
    monkeypatch.setattr(runtime, "_private_file", lambda suffix: None)
    net = runtime._read_onnx(cv2, pieces)
    net.setInput(x)
    np.testing.assert_array_equal(net.forward(), want)


def test_the_private_file_is_the_users_own(tmp_path, monkeypatch):
    import stat

    from caffe_compat.onnx_path import runtime
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TEMP", str(tmp_path))
    path = runtime._private_file(".onnx")
    assert os.path.dirname(path) == str(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert runtime._private_file(".onnx") != path


def test_the_caffemodel_read_beside_the_prototxt_reports_in_order(tmp_path):
    """The caffemodel's bytes are read on a thread while the prototxt is parsed: a bad
    prototxt is still reported before a missing caffemodel, and a missing caffemodel by
    name."""
    from caffe_compat import dnn
    from caffe_compat.errors import PrototxtError, WeightsError
    (tmp_path / "bad.prototxt").write_text('layer { name: "a" type: }\n')
    with pytest.raises(PrototxtError):
        dnn.readNetFromCaffe(str(tmp_path / "bad.prototxt"), str(tmp_path / "none.caffemodel"))
    text, _, _ = _files(tmp_path)
    with pytest.raises(WeightsError, match="none.caffemodel: no such caffemodel file"):
        dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"),
                             str(tmp_path / "none.caffemodel"))


def _linked_plan(tmp_path, monkeypatch):
    """The plan of the res10 SSD read from files, as OpenCV 5's reader would load it."""
    from caffe_compat import dnn
    from caffe_compat.onnx_path import runtime
    from tests.caffe_compat.dnn import nets
    text, blobs = nets.res10_ssd(300)
    (tmp_path / "deploy.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
    monkeypatch.setattr(lite, "MODE", "on")
    monkeypatch.setattr(runtime, "choose", lambda size=None: "opencv")
    monkeypatch.setattr(runtime, "session", lambda *a, **k: None)
    monkeypatch.setattr(runtime, "start", lambda *a, **k: None)
    net = dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"),
                               str(tmp_path / "w.caffemodel"))
    return net._torch_free._checked[3], tmp_path / "w.caffemodel"


def test_large_weights_refer_to_the_caffemodels_own_bytes(tmp_path, monkeypatch):
    """OpenCV 5's model refers to the caffemodel's packed values (ONNX's external data at
    their offsets) instead of writing them again: every referred tensor is the inline
    model's tensor, byte for byte."""
    import onnx
    from onnx import numpy_helper
    plan, path = _linked_plan(tmp_path, monkeypatch)
    assert plan.linked is not None
    pieces, source = plan.linked
    assert source.path == str(path)
    linked = onnx.ModelProto.FromString(b"".join(pieces))
    inline = onnx.load_from_string(b"".join(plan.model))
    data = path.read_bytes()
    referred = 0
    for a, b in zip(linked.graph.initializer, inline.graph.initializer):
        want = numpy_helper.to_array(b)
        if a.data_location == onnx.TensorProto.EXTERNAL:
            where = {e.key: e.value for e in a.external_data}
            assert where["location"] == source.LINK
            start, length = int(where["offset"]), int(where["length"])
            assert data[start:start + length] == want.astype("<f4").tobytes()
            referred += length
        else:
            np.testing.assert_array_equal(numpy_helper.to_array(a), want)
    assert referred > 0.9 * len(data)
    assert len(b"".join(pieces)) < 0.1 * len(data)


def test_a_caffemodel_changed_since_it_was_read_is_not_referred_to(tmp_path, monkeypatch):
    """The model referring to the file is used only where the file is still the one whose
    bytes were read; the link and the model's folder are gone either way."""
    from caffe_compat.onnx_path import runtime
    plan, path = _linked_plan(tmp_path, monkeypatch)
    pieces, source = plan.linked
    seen = []

    class FakeCv2:
        error = RuntimeError

        class dnn:
            @staticmethod
            def readNetFromONNX(model_path):
                folder = os.path.dirname(model_path)
                seen.append(os.path.realpath(os.path.join(folder, source.LINK)))
                return "net"
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    assert runtime._read_linked(FakeCv2, pieces, source) == "net"
    assert seen == [os.path.realpath(path)] and list((tmp_path / "t").iterdir()) == []
    path.write_bytes(path.read_bytes())            # rewritten: another modification time
    os.utime(path, ns=(1, 1))
    assert runtime._read_linked(FakeCv2, pieces, source) is None
    assert list((tmp_path / "t").iterdir()) == []


def _opencv5():
    import cv2
    return int(cv2.__version__.split(".")[0]) >= 5


@pytest.mark.skipif(not _opencv5(), reason="OpenCV 5's ONNX reader (OpenCV 4 keeps its own "
                    "Caffe importer)")
def test_opencv5_loads_the_model_referring_to_the_caffemodel(tmp_path, monkeypatch):
    """End to end on OpenCV 5: the net read from files loads the model that refers to the
    caffemodel (the whole-model writer is not called) and answers as the net read from
    buffers, whose model holds its weights."""
    from caffe_compat import dnn
    from caffe_compat.onnx_path import runtime
    from tests.caffe_compat.dnn import nets
    text, blobs = nets.res10_ssd(300)
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    (tmp_path / "deploy.prototxt").write_text(text)
    (tmp_path / "w.caffemodel").write_bytes(model)
    monkeypatch.setattr(lite, "MODE", "on")
    monkeypatch.setenv(runtime.ENV_RUNTIME, "opencv")
    x = np.random.default_rng(4).uniform(0, 255, (1, 3, 300, 300)).astype(np.float32)
    inline = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    inline.setInput(x)
    want = inline.forward()

    def refuse(cv2, pieces):
        raise AssertionError("the whole model was written")
    monkeypatch.setattr(runtime, "_read_onnx", refuse)
    net = dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"), str(tmp_path / "w.caffemodel"))
    net.setInput(x)
    got = net.forward()
    assert net._torch_free is not None and net._torch_free.runtime == "opencv"
    rows = [np.array(sorted(map(tuple, a.reshape(-1, 7)))) for a in (got, want)]
    # OpenCV 5's kernels split their sums by threads: runs differ in the last bits
    assert scaled_error(rows[0], rows[1]) <= TOL


class _Clock:
    """A clock for the trial (choice's ``time``) that runs only when a fake session says how
    long its forward took: the trial's turns measured exactly, whatever the machine's load."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def session(self, seconds):
        """A session whose forward takes ``seconds(call number)``."""
        calls = [0]

        def run(feed):
            calls[0] += 1
            self.now += seconds(calls[0])
            return [feed]
        return run


def _trial(monkeypatch, first, others):
    from caffe_compat.onnx_path import choice
    clock = _Clock()
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "time", clock)
    sessions = {name: clock.session(f) for name, f in others.items()}
    chosen = choice.Chosen(clock.session(first), "first", list(others), sessions.get, 0.0)
    for _ in range(choice.MIN_CALLS + 5 * (1 + choice.TURNS)):
        assert chosen(1) == [1]
    assert chosen.decided
    return choice, chosen


def test_two_close_runtimes_take_their_turns_again_in_the_other_order(monkeypatch):
    """A runtime slowed during its first turns (by the threads of the one timed before it)
    but within CLOSE of the fastest gets a second pass, and wins where it is faster there."""
    from caffe_compat.onnx_path import choice
    first_pass = 1 + choice.TURNS
    choice, chosen = _trial(monkeypatch, lambda k: 0.006, {
        "steady": lambda k: 0.002,
        "late": lambda k: 0.0021 if k <= first_pass else 0.0005})
    assert chosen.runtime == "late"
    assert set(chosen.times) == {"first (first)", "steady", "late"}
    assert chosen.times == pytest.approx({"first (first)": 0.006, "steady": 0.002,
                                          "late": 0.0005})


def test_two_runtimes_apart_by_more_than_close_take_no_second_pass(monkeypatch):
    from caffe_compat.onnx_path import choice
    first_pass = 1 + choice.TURNS
    choice, chosen = _trial(monkeypatch, lambda k: 0.006, {
        "steady": lambda k: 0.002,
        "late": lambda k: 0.0024 if k <= first_pass else 0.0005})
    assert chosen.runtime == "steady" and chosen.times["late"] == pytest.approx(0.0024)


def test_a_runtime_slowed_in_the_second_pass_keeps_its_first_pass_turns(monkeypatch):
    """In the second pass a runtime timed right after the other can be slowed past DROP
    times the other's turns: it stays in with its fastest turn of both passes, and wins
    where that is the fastest."""
    from caffe_compat.onnx_path import choice
    first_pass = 1 + choice.TURNS
    choice, chosen = _trial(monkeypatch, lambda k: 0.008, {
        "slowed": lambda k: 0.002 if k <= first_pass else 0.006,
        "steady": lambda k: 0.0022})
    assert chosen.runtime == "slowed"
    assert chosen.times["slowed"] == pytest.approx(0.002)
    assert chosen.times["steady"] == pytest.approx(0.0022)


def _run_until_settled(chosen, limit=2000):
    """Forwards until one runtime answers every one (the trial and any second look over)."""
    for calls in range(limit):
        if chosen.settled:
            return calls
        assert chosen(1) == [1]
    raise AssertionError("the trial did not settle")


def _looked_trial(monkeypatch, others, first=lambda k: 0.006):
    from caffe_compat.onnx_path import choice
    clock = _Clock()
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "time", clock)
    sessions = {name: clock.session(f) for name, f in others.items()}
    reports = []
    chosen = choice.Chosen(clock.session(first), "first", list(others), sessions.get, 0.0,
                           decided=lambda name, times: reports.append(name))
    _run_until_settled(chosen)
    return choice, chosen, reports


def test_a_second_look_ranks_close_runtimes_by_their_block_medians(monkeypatch):
    """Two runtimes within CLOSE: the one whose fastest single turn is the fastest but whose
    forwards mostly take longer wins the first trial; the second look's block medians give
    the net to the runtime whose forwards are steadily faster, and ``decided`` hears of it."""
    choice, chosen, reports = _looked_trial(monkeypatch, {
        "spiky": lambda k: 0.0019 if k % 4 == 0 else 0.003,
        "even": lambda k: 0.002})
    assert chosen.times["spiky"] < chosen.times["even"]        # the first trial's minimum
    assert reports == ["spiky", "even"]
    assert chosen.runtime == "even" and chosen.label == "even"
    assert chosen.looked == pytest.approx({"spiky": 0.003, "even": 0.002})


def test_a_second_look_keeps_the_winner_that_stays_faster(monkeypatch):
    choice, chosen, reports = _looked_trial(monkeypatch, {
        "a": lambda k: 0.0020, "b": lambda k: 0.0021})
    assert reports == ["a", "a"] and chosen.runtime == "a"
    assert set(chosen.looked) == {"a", "b"}


def test_runtimes_apart_by_more_than_close_settle_without_a_second_look(monkeypatch):
    choice, chosen, reports = _looked_trial(monkeypatch, {
        "fast": lambda k: 0.001, "slow": lambda k: 0.003})
    assert reports == ["fast"] and chosen.looked == {}


def test_a_runtime_whose_turns_met_a_slow_state_of_the_machine_takes_the_second_look(
        monkeypatch):
    """"ov" is 20 % faster, but its turns of the first trial all met a state of the machine
    that ran it 1.6x slower (past CLOSE, within LOOK_CLOSE of the winner): it takes the
    second look with "ort" and its blocks there give it the net."""
    from caffe_compat.onnx_path import choice
    calls = {"ov": 0}

    def ov(k):
        calls["ov"] += 1
        return 0.0016 * 1.6 if calls["ov"] <= 1 + choice.TURNS else 0.0016
    choice, chosen, reports = _looked_trial(monkeypatch, {"ort": lambda k: 0.002, "ov": ov})
    assert chosen.times["ov"] > choice.CLOSE * chosen.times["ort"]
    assert reports == ["ort", "ov"] and chosen.runtime == "ov"
    assert chosen.looked == pytest.approx({"ort": 0.002, "ov": 0.0016})


def test_a_choice_made_at_the_first_forward_takes_the_second_looks_first_rounds_there(
        monkeypatch):
    """CAFFE_COMPAT_ENGINE_DEFER=0 chooses at the first forward: the second look's first
    LOOK_ROUNDS rounds run there too, so the forwards after it run the chosen runtime (a
    benchmark timing from the second forward times the steady state)."""
    from caffe_compat.onnx_path import choice
    clock = _Clock()
    monkeypatch.setenv(choice.ENV_DEFER, "0")
    monkeypatch.setattr(choice, "time", clock)
    counts = {"ort": 0, "ov": 0}

    def counted(name, seconds):
        def f(k):
            counts[name] += 1
            return seconds
        return f
    sessions = {"ort": clock.session(counted("ort", 0.0021)),
                "ov": clock.session(counted("ov", 0.0020))}
    chosen = choice.Chosen(clock.session(lambda k: 0.006), "first", ["ort", "ov"],
                           sessions.get, 0.0)
    assert chosen(1) == [1]
    assert chosen.settled and chosen.rounds == choice.LOOK_ROUNDS and chosen.runtime == "ov"
    before = dict(counts)
    for _ in range(20):
        assert chosen(1) == [1]
    assert counts == {"ort": before["ort"], "ov": before["ov"] + 20}


def test_the_second_look_runs_blocks_of_at_least_look_block_s(monkeypatch):
    """A forward of 0.1 ms: each block holds LOOK_BLOCK_S of forwards (200 turns at most),
    each runtime a block per round, after one untimed forward."""
    from caffe_compat.onnx_path import choice
    counts = {"a": [0], "b": [0]}

    def counted(name, seconds):
        def f(k):
            counts[name][0] += 1
            return seconds
        return f
    choice, chosen, _ = _looked_trial(monkeypatch, {
        "a": counted("a", 0.0001), "b": counted("b", 0.000105)},
        first=lambda k: 0.001)
    turns = min(200, math.ceil(choice.LOOK_BLOCK_S / 0.0001))
    look = choice.LOOK_ROUNDS * (1 + turns)
    trial = 2 * (1 + choice.TURNS)                     # the first pass and the rematch
    assert counts == {"a": [trial + look], "b": [trial + look]}


def _run_rounds(chosen, rounds, limit=200000):
    """Forwards until the second look has run ``rounds`` rounds and none is under way."""
    for _ in range(limit):
        if chosen.rounds >= rounds and chosen.settled:
            return
        assert chosen(1) == [1]
    raise AssertionError(f"{rounds} rounds did not run ({chosen.rounds})")


def test_the_rounds_of_a_net_that_keeps_running_turn_a_choice_the_first_rounds_got_wrong(
        monkeypatch):
    """"b" was slowed by a burst over the first rounds of the look, then runs 10 % faster
    than "a": the rounds that come later, each after twice the forwards of the one before,
    give it the net; ``decided`` hears of the change, and after the last round the other
    runtime's session is let go."""
    from caffe_compat.onnx_path import choice
    clock = _Clock()
    burst = [True]
    choice_, chosen, reports = None, None, []
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "time", clock)
    sessions = {"a": clock.session(lambda k: 0.002),
                "b": clock.session(lambda k: 0.00215 if burst[0] else 0.0018)}
    chosen = choice.Chosen(clock.session(lambda k: 0.006), "first", ["a", "b"], sessions.get,
                           0.0, decided=lambda name, times: reports.append(name))
    _run_until_settled(chosen)
    assert chosen.runtime == "a" and reports == ["a", "a"] and chosen.rounds == 3
    burst[0] = False
    start = clock.now
    _run_rounds(chosen, 4)
    # the fourth round after LOOK_AGAIN_S seconds of forwards (and its own turns)
    assert clock.now - start == pytest.approx(choice.LOOK_AGAIN_S, rel=0.1)
    assert chosen.runtime == "a"                      # three rounds of four still say "a"
    _run_rounds(chosen, 6)
    assert chosen.runtime == "b" and reports == ["a", "a", "b"]
    assert chosen._looking is not None
    _run_rounds(chosen, choice.LOOK_ROUNDS + choice.LOOK_AGAIN)
    assert chosen._looking is None and chosen.runtime == "b"
    spent = clock.now
    for _ in range(20000):                            # no round after the last
        chosen(1)
    assert chosen.rounds == choice.LOOK_ROUNDS + choice.LOOK_AGAIN
    assert clock.now - spent == pytest.approx(20000 * 0.0018)


def test_one_round_slowed_by_a_burst_does_not_turn_the_choice(monkeypatch):
    """The rounds pair the blocks: "a" 5 % faster in every round but one, where a burst
    doubles its block; the median over the rounds keeps it (a mean would not)."""
    from caffe_compat.onnx_path import choice
    clock = _Clock()
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "time", clock)
    state = {"round": 0}
    sessions = {"a": clock.session(lambda k: 0.004 if state["round"] == 4 else 0.0019),
                "b": clock.session(lambda k: 0.002)}
    chosen = choice.Chosen(clock.session(lambda k: 0.006), "first", ["a", "b"], sessions.get,
                           0.0)
    for rounds in range(3, choice.LOOK_ROUNDS + choice.LOOK_AGAIN + 1):
        _run_rounds(chosen, rounds)
        state["round"] = chosen.rounds + 1
        assert chosen.runtime == "a", rounds
    assert chosen.looked == pytest.approx({"a": 0.0019, "b": 0.002})
