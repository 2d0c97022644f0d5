"""Where OpenCV 5 runs the torch-free plans: its classic engine for the plans of a net whose
layers write no lengths and whose nodes the grid checked on it
(:func:`caffe_compat.onnx_path.runtime.engine_for`), its new engine for every other; models reach
the reader through a file in memory (a temporary file where the reader refuses it), none left
behind; a small net is read without threads."""
import numpy as np
import pytest

from .helpers import exact, lite_mode, seeded_model

cv2 = pytest.importorskip("cv2")
pytestmark = pytest.mark.skipif(
    int(cv2.__version__.split(".")[0]) < 5 or not hasattr(cv2.dnn, "ENGINE_CLASSIC"),
    reason="OpenCV 5's readers (OpenCV 4 keeps its own Caffe importer)")

HEAD = 'name: "n"\nlayer { name: "in" type: "Input" top: "data" input_param { shape { ' \
       'dim: 1 dim: 3 dim: 24 dim: 20 } } }\n'
# a face detector's first stage: the layers MTCNN's P-Net is made of
CASCADE_STAGE = HEAD + """
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "p1" type: "PReLU" bottom: "c1" top: "c1" }
layer { name: "m1" type: "Pooling" bottom: "c1" top: "m1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "c2" type: "Convolution" bottom: "m1" top: "c2"
        convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "prob" type: "Softmax" bottom: "c2" top: "prob" }
"""
# LRN within a channel: the classic engine's average leaves the padding aside
LRN_WITHIN = HEAD + """
layer { name: "prob" type: "LRN" bottom: "data" top: "prob"
        lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL } }
"""


@pytest.fixture
def on_opencv(monkeypatch, tmp_path):
    from caffe_compat.onnx_path import runtime
    monkeypatch.setenv(runtime.ENV_RUNTIME, "opencv")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv(runtime.ENV_OPENCV_ENGINE, raising=False)
    return monkeypatch


def _runs(text, shapes, tmp_path):
    """The runtime of each forward at ``shapes``; the outputs checked against the exact
    forward (float32 sums in another order: 1e-5 of the output's scale)."""
    from caffe_compat import dnn
    model = seeded_model(text)
    got = []
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        for shape in shapes:
            x = np.random.default_rng(1).normal(0, 1, shape).astype(np.float32)
            net.setInput(x)
            out = net.forward("prob")
            want = exact(text.replace("dim: 1 dim: 3 dim: 24 dim: 20",
                                      " ".join(f"dim: {d}" for d in shape)),
                         model, {"data": x}, ["prob"], tmp_path)["prob"]
            assert out.shape == want.shape
            assert np.abs(out - want).max() <= 1e-5 * np.abs(want).max()
            got.append(net._torch_free.runtime)
    return got


def test_a_net_of_checked_layers_runs_on_the_classic_engine(on_opencv, tmp_path):
    runs = _runs(CASCADE_STAGE, [(1, 3, 24, 20), (1, 3, 31, 17), (2, 3, 40, 28)], tmp_path)
    assert runs == ["opencv-classic"] * 3


def test_other_nets_run_on_the_new_engine(on_opencv, tmp_path):
    assert _runs(LRN_WITHIN, [(1, 3, 24, 20), (1, 3, 9, 11)], tmp_path) == ["opencv"] * 2


def test_the_new_engine_where_asked_for(on_opencv, tmp_path):
    from caffe_compat.onnx_path import runtime
    on_opencv.setenv(runtime.ENV_OPENCV_ENGINE, "new")
    assert _runs(CASCADE_STAGE, [(1, 3, 24, 20), (1, 3, 31, 17)], tmp_path) == ["opencv"] * 2


def test_an_unknown_engine_is_named_in_the_error(on_opencv, tmp_path):
    from caffe_compat.onnx_path import runtime
    on_opencv.setenv(runtime.ENV_OPENCV_ENGINE, "old")
    with pytest.raises(ValueError, match="CAFFE_COMPAT_OPENCV_ENGINE='old'"):
        _runs(CASCADE_STAGE, [(1, 3, 31, 17)], tmp_path)


def test_no_model_file_is_left_behind(on_opencv, tmp_path):
    _runs(CASCADE_STAGE, [(1, 3, 24, 20), (1, 3, 31, 17)], tmp_path)
    _runs(LRN_WITHIN, [(1, 3, 24, 20)], tmp_path)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith("caffe_compat-")]
    assert left == []


def test_a_small_net_is_read_without_threads(on_opencv, tmp_path):
    """A caffemodel and weights under ``EARLY_MIN_BYTES``: read and loaded where they are
    needed (starting a thread costs its caller the wait until the thread runs)."""
    from caffe_compat.onnx_path import early

    def no_thread(*args, **kwargs):
        raise AssertionError("a thread was started for a small net")
    on_opencv.setattr(early.EarlyCall, "__init__", no_thread)
    path = tmp_path / "n.caffemodel"
    path.write_bytes(seeded_model(CASCADE_STAGE))
    (tmp_path / "n.prototxt").write_text(CASCADE_STAGE)
    from caffe_compat import dnn
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(str(tmp_path / "n.prototxt"), str(path))
        net.setInput(np.zeros((1, 3, 24, 20), np.float32))
        assert net.forward("prob").shape == (1, 2, 11, 9)


def _refusing_memory_files(monkeypatch):
    """OpenCV's ONNX reader made to refuse /proc/self/fd paths, as an OpenCV that cannot open
    them would; the paths it was given, in turn."""
    read, given = cv2.dnn.readNetFromONNX, []

    def refuse(path, *engine):
        given.append(path if isinstance(path, str) else "<buffer>")
        if isinstance(path, str) and path.startswith("/proc/self/fd/"):
            raise cv2.error("cannot open the file")
        return read(path, *engine)
    monkeypatch.setattr(cv2.dnn, "readNetFromONNX", refuse)
    return given


def test_a_refused_file_in_memory_is_read_from_a_temporary_file(on_opencv, tmp_path):
    given = _refusing_memory_files(on_opencv)
    assert _runs(CASCADE_STAGE, [(1, 3, 24, 20)], tmp_path) == ["opencv-classic"]
    assert [p.startswith("/proc/self/fd/") for p in given] == [True, False]
    assert given[1].startswith(str(tmp_path))
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith("caffe_compat-")]
    assert left == []


def test_a_session_started_early_reads_a_refused_file_in_memory_again(on_opencv, tmp_path):
    from caffe_compat.onnx_path import runtime
    given = _refusing_memory_files(on_opencv)
    model = b"not an onnx model"
    with pytest.raises(cv2.error):
        runtime.start(runtime.CLASSIC, model, ["data"], ["prob"]).result()
    assert [p.startswith("/proc/self/fd/") for p in given] == [True, False]
    assert given[1].startswith(str(tmp_path))
    assert [p for p in tmp_path.iterdir() if p.name.startswith("caffe_compat-")] == []
