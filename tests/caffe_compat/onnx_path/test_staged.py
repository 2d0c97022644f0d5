"""A graph written in two parts (caffe_compat.onnx_path.graph.build's ``stage``): the first part is
handed over as soon as the layers holding half the weights are written, so that OpenCV 5's
reader reads it while the rest is written; the parts run in turn give the whole graph's
answers. And OpenCV's reader started on a thread whose only work is the reader's call
(runtime._OpenCVStart)."""
import os

import numpy as np
import pytest

from caffe_compat import onnx_path as lite
from caffe_compat.onnx_path import graph, onnx_wire, runtime

from .helpers import scaled_error

# float32 ops the same in both plans; onnxruntime may fuse a Conv with its neighbours on one
# side of the cut and not the other, which moves the last bit of a sum
TOL = 1e-6


def _ssd_plan(stage=None, path=None):
    """The res10 SSD's plan (``path``: its caffemodel written there, the weights viewing the
    file's bytes as a net read from files)."""
    from caffe_compat.io.binary_file import read_binary_file_identified
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.io.protobuf_free import weights as light_weights
    from tests.caffe_compat.dnn import nets
    text, blobs = nets.res10_ssd(300)
    data, source = nets.caffemodel_bytes(text, blobs, seed=0), None
    if path is not None:
        path.write_bytes(data)
        data, known = read_binary_file_identified(str(path))
        source = graph.FileSource(str(path), data, known)
    param = parse_net(text)
    layers = [lp for lp in param.layer if lp.type != "Input"]
    inputs = [(lp.top[0], tuple(lp.input_param.shape[0].dim)) for lp in param.layer
              if lp.type == "Input"]
    wanted = [layers[-1].top[0]]
    return graph.build(layers, inputs, light_weights.read(data), wanted, "ssd", stage=stage,
                       source=source), inputs, wanted


def _ort(part):
    return runtime.session("onnxruntime", part.model, part.input_names, part.output_names)


def test_the_first_part_is_handed_over_while_the_rest_is_written():
    handed = []
    plan, inputs, _ = _ssd_plan(stage=handed.append)
    assert len(handed) == 1 and plan.parts[0] is handed[0] and len(plan.parts) == 2
    first, rest = plan.parts
    # the cut follows the layers holding half the weights; the parts cover the graph
    assert 0 < len(first._nodes) < len(plan.whole._nodes)
    assert list(first._nodes) + list(rest._nodes) == list(plan.whole._nodes)
    assert first.input_names == [n for n, _ in inputs]
    # the rest reads the net's inputs and the first part's outputs only, and every output of
    # the first part is read
    made = set(first.output_names) | {n for n, _ in inputs}
    assert set(rest.input_names) <= made and set(first.output_names) <= set(rest.input_names)
    assert rest.outputs == plan.whole.outputs


def test_each_part_is_a_valid_model():
    import onnx
    plan, _, _ = _ssd_plan(stage=lambda part: None)
    for part in plan.parts:
        model = onnx.load_from_string(b"".join(part.model))
        onnx.checker.check_model(model)
        assert [i.name for i in model.graph.input] == part.input_names
        assert [o.name for o in model.graph.output] == part.output_names


def test_the_parts_in_turn_answer_as_the_whole_model():
    plan, inputs, _ = _ssd_plan(stage=lambda part: None)
    whole = _ort(plan.whole)
    staged = graph.in_turn(plan.parts, [_ort(p) for p in plan.parts],
                           list(plan.graph_outputs.values()))
    x = np.random.default_rng(3).uniform(0, 255, inputs[0][1]).astype(np.float32)
    for got, want in zip(staged({inputs[0][0]: x}), whole({inputs[0][0]: x})):
        assert got.shape == want.shape
        assert scaled_error(got, want) <= TOL


def test_no_stage_where_nothing_would_be_handed_over():
    """A net whose weights all sit in its last layer: no cut (nothing would be left after
    it), one part."""
    from caffe_compat.io.protobuf_free import text as light_text
    text = ('layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
            'layer { name: "fc" type: "InnerProduct" bottom: "r" top: "fc" '
            'inner_product_param { num_output: 4 } }\n')
    layers = list(light_text.parse(text).layer)
    weights = {"fc": [np.ones((4, 6), np.float32), np.zeros(4, np.float32)]}
    handed = []
    plan = graph.build(layers, [("data", (1, 6))], weights, ["fc"], stage=handed.append)
    assert handed == [] and plan.parts == [plan.whole]


def test_a_large_net_on_opencvs_reader_is_read_in_two_parts(monkeypatch):
    """TorchFreeNet.check stages the build where the runtime reads without the GIL and the net
    holds STAGE_MIN_BYTES of weights or more; every part's read is started at once."""
    from caffe_compat import dnn
    from tests.caffe_compat.dnn import nets
    started = []

    class Started:
        def __init__(self, *args):
            started.append(args)

        def result(self):
            return None
    monkeypatch.setattr(lite, "MODE", "on")
    monkeypatch.setattr(runtime, "choose", lambda size=None: "opencv")
    monkeypatch.setattr(runtime, "start", Started)
    text, blobs = nets.res10_ssd(300)
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    plan = net._torch_free._checked[3]
    assert len(plan.parts) == 2 and len(started) == 2
    assert [a[2] for a in started] == [p.input_names for p in plan.parts]
    monkeypatch.setattr(lite, "STAGE_MIN_BYTES", len(model) * 2)
    started.clear()
    net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    assert len(net._torch_free._checked[3].parts) == 1 and len(started) == 1
    monkeypatch.setattr(lite, "STAGE_MIN_BYTES", 0)
    monkeypatch.setattr(runtime, "choose", lambda size=None: "onnxruntime")
    started.clear()
    net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    assert len(net._torch_free._checked[3].parts) == 1 and len(started) == 1


class _FakeCv2:
    """OpenCV's reader, recording what it read (its folder's files at the time)."""

    class error(Exception):
        pass

    def __init__(self, refuse_linked=False):
        self.seen, self.refuse_linked = [], refuse_linked
        fake = self

        class dnn:
            @staticmethod
            def readNetFromONNX(path):
                if not isinstance(path, str):           # a small model given as a buffer
                    fake.seen.append("buffer")
                    return "net"
                folder = os.path.dirname(path)
                fake.seen.append(sorted(os.listdir(folder)) if "model.onnx" in path else
                                 os.path.basename(path))
                if fake.refuse_linked and "model.onnx" in path:
                    raise _FakeCv2.error("external data")
                return "net"
        self.dnn = dnn


def test_opencvs_early_read_writes_first_and_removes_after(tmp_path, monkeypatch):
    import sys
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    model = tmp_path / "w.caffemodel"
    model.write_bytes(b"\0" * 64)
    from caffe_compat.io.binary_file import read_binary_file_identified
    data, known = read_binary_file_identified(str(model))
    source = graph.FileSource(str(model), data, known)
    pieces = onnx_wire.Pieces([b"model bytes"])
    for refuse in (False, True):
        fake = _FakeCv2(refuse_linked=refuse)
        monkeypatch.setitem(sys.modules, "cv2", fake)
        start = runtime.start("opencv", lambda: pieces, ["x"], ["y"], None, (pieces, source))
        session = start.result()
        assert session.runtime == "opencv"
        # the linked model with its link; where refused, the whole model (a small one as a
        # buffer, runtime.BUFFER_MAX_BYTES)
        assert fake.seen[0] == [source.LINK, "model.onnx"]
        assert fake.seen[1:] == (["buffer"] if refuse else [])
        assert len(fake.seen) == (2 if refuse else 1)
        assert list((tmp_path / "t").iterdir()) == []
    # a caffemodel changed since it was read: the whole model is read instead
    fake = _FakeCv2()
    monkeypatch.setitem(sys.modules, "cv2", fake)
    start = runtime.start("opencv", lambda: pieces, ["x"], ["y"], None, (pieces, source))
    model.write_bytes(b"\1" * 64)
    os.utime(model, ns=(1, 1))
    start.result()
    assert len(fake.seen) == 2 and fake.seen[1] == "buffer"
    assert list((tmp_path / "t").iterdir()) == []


@pytest.mark.skipif(not runtime._opencv5_imported() and "opencv" not in runtime.available(),
                    reason="OpenCV 5's ONNX reader")
def test_opencv5_runs_the_parts_in_turn_as_the_whole_model(tmp_path):
    """On OpenCV 5 itself: the two parts, read from the caffemodel's own bytes, give the
    whole model's detections."""
    plan, inputs, _ = _ssd_plan(stage=lambda part: None, path=tmp_path / "w.caffemodel")
    assert all(p.linked is not None for p in plan.parts)
    x = np.random.default_rng(5).uniform(0, 255, inputs[0][1]).astype(np.float32)
    whole = runtime.session("opencv", plan.whole.model, plan.whole.input_names,
                            plan.whole.output_names)
    parts = [runtime.start("opencv", lambda p=p: p.model, p.input_names, p.output_names,
                           None, p.linked) for p in plan.parts]
    staged = graph.in_turn(plan.parts, [s.result() for s in parts],
                           list(plan.graph_outputs.values()))
    for got, want in zip(staged({inputs[0][0]: x}), whole({inputs[0][0]: x})):
        print("scaled error", scaled_error(got, want))
        assert scaled_error(got, want) <= TOL


def test_opencvs_reader_takes_a_model_given_whole_or_in_pieces(monkeypatch):
    """runtime.session's models are ONNX bytes or Pieces: both reach OpenCV's reader as the
    same file, or, below runtime.BUFFER_MAX_BYTES, as the same buffer."""
    class Cv2:
        class dnn:
            @staticmethod
            def readNetFromONNX(path):
                if not isinstance(path, str):
                    return ("buffer", bytes(path))
                with open(path, "rb") as f:
                    return ("file", f.read())
    for model in (b"onnx-bytes", onnx_wire.Pieces([b"onnx-", b"bytes"])):
        assert runtime._read_onnx(Cv2, model) == ("buffer", b"onnx-bytes")
    monkeypatch.setattr(runtime, "BUFFER_MAX_BYTES", 4)
    for model in (b"onnx-bytes", onnx_wire.Pieces([b"onnx-", b"bytes"])):
        assert runtime._read_onnx(Cv2, model) == ("file", b"onnx-bytes")


def test_early_work_waits_for_a_free_core(tmp_path, monkeypatch):
    """core_free: a core is free where the tasks of other processes running
    (``/proc/loadavg``'s fourth field less this process's running threads) leave a CPU
    beside the caller's and the process may use two; the environment's 1 or 0 decides
    instead; an unreadable file counts as free."""
    from caffe_compat.onnx_path import early
    monkeypatch.delenv(early.ENV, raising=False)
    monkeypatch.setattr(early.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(early.os, "sched_getaffinity", lambda pid: {0, 1})
    tasks = tmp_path / "task"
    for tid, state in (("10", "R"), ("11", "S"), ("12", "R")):     # two of ours running
        (tasks / tid).mkdir(parents=True)
        (tasks / tid / "stat").write_text(f"{tid} (python (x)) {state} 1 2 3\n")
    path = tmp_path / "loadavg"
    path.write_text("0.52 0.41 0.30 2/80 4242\n")
    assert early.core_free(path, tasks)
    path.write_text("1.52 1.41 1.30 3/81 4243\n")       # a busy loop beside us
    assert not early.core_free(path, tasks)
    (tasks / "13").mkdir()                       # a thread that ended: no stat to read
    assert not early.core_free(path, tasks)
    monkeypatch.setenv(early.ENV, "1")
    assert early.core_free(path, tasks)
    monkeypatch.setenv(early.ENV, "0")
    path.write_text("0.52 0.41 0.30 2/80 4242\n")
    assert not early.core_free(path, tasks)
    monkeypatch.setenv(early.ENV, "auto")
    assert early.core_free(tmp_path / "missing", tasks)
    monkeypatch.setattr(early.os, "sched_getaffinity", lambda pid: {0})
    assert not early.core_free(path, tasks)
