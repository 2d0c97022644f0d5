"""The engines on the nets whose checks go through OpenCV: the detection nets on the photo
(OpenCV reads and resizes it), and ``caffe_compat.dnn``'s backends (cv2.dnn's surface). Kept
apart from test_engines.py so that CI's OpenCV 4 run, which repeats only the test files that
reach OpenCV (tests/opencv_usage.py), repeats these and not the whole engine suite."""
import warnings

import numpy as np
import pytest

from caffe_compat.inference.engines import EngineWarning, TRUST_TOL, installed_engines
from caffe_compat.onnx_path.trust import output_error, set_outputs
from tests.caffe_compat.inference.engines.test_engines import _run
from tests.caffe_compat.public_nets import build, net_input

pytest.importorskip("onnx")
ENGINES = [n for n in ("onnxruntime", "openvino") if n in installed_engines()]
if not ENGINES:
    pytest.skip("neither onnxruntime nor openvino is installed", allow_module_level=True)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["SSD face detector", "MobileNet-SSD", "Faster R-CNN",
                                  "R-FCN"])
def test_detection_nets_on_engine(name, engine):
    """DetectionOutput / Proposal / ROI pooling nets on the photo: the same detections (rows
    compared as sets where scores tie), dense heads within 1e-4."""
    from tests.caffe_compat.opencv_fixtures import compare, ssd_nets
    from tests.caffe_compat.opencv_fixtures.nets import build as build_case
    case = ssd_nets.NETS[name]()
    net, _ = build_case(case)
    inputs = compare.photo_inputs(case, compare.fixture(name)["photo"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineWarning)
        theirs, ours, ran = _run(net, case["outputs"], engine, inputs)
    assert ran == engine
    sets = set_outputs(net, case["outputs"])
    assert sets                         # the detections are compared as sets
    for k in case["outputs"]:
        assert theirs[k].shape == ours[k].shape, k
        # the same rows; float32 reassociation in the heads: 1e-4 of the scale
        assert output_error(theirs[k], ours[k], k in sets) <= TRUST_TOL, k



# ------------------------------------------------------------------------------ caffe_compat.dnn
def _dnn_lenet():
    from caffe_compat import dnn
    from caffe_compat.io.caffemodel import caffemodel_bytes
    from caffe_compat.io.prototxt import to_text
    net, _ = build("LeNet")
    text, model = to_text(net.inference_proto()), caffemodel_bytes(net.to_proto())
    return dnn, dnn.readNetFromCaffe(text.encode(), model), net_input(net, "LeNet", 1)["data"]


def test_dnn_backends_choose_engines():
    """On the torch path: DNN_BACKEND_CUDA with the CPU target: our torch forward;
    DNN_BACKEND_INFERENCE_ENGINE: OpenVINO; the default (and DNN_BACKEND_OPENCV, OpenCV 4's
    default): auto; forward([inner names]) runs those outputs on the engine, within 1e-4."""
    from tests.caffe_compat.onnx_path.helpers import lite_mode
    with lite_mode("off"):              # (the torch-free path answers the default backend)
        dnn, net, x = _dnn_lenet()
    net.setPreferableBackend(dnn.DNN_BACKEND_CUDA)      # our torch forward, on the CPU target
    net.setInput(x)
    ref = net.forward(["conv1", "ip1", "prob"])
    assert not net._runners
    total, per_layer = net.getPerfProfile()
    assert total > 0 and per_layer.sum() > 0          # per-layer times of our forward
    backends = [(dnn.DNN_BACKEND_DEFAULT, None), (dnn.DNN_BACKEND_OPENCV, None)]
    if "openvino" in ENGINES:
        backends.append((dnn.DNN_BACKEND_INFERENCE_ENGINE, "openvino"))
    for backend, want in backends:
        net.setPreferableBackend(backend)
        net.setInput(x)
        got = net.forward(["conv1", "ip1", "prob"])
        runner = net._runners[next(reversed(net._runners))]
        assert runner.outputs == sorted(runner.outputs) and "conv1" in runner.outputs
        if want:
            assert runner.last_engine == want
        for a, b in zip(got, ref):
            assert output_error(a, b) <= TRUST_TOL
        assert net.getPerfProfile()[0] > 0


def test_dnn_set_param_exports_again():
    dnn, net, x = _dnn_lenet()
    net.setInput(x)
    before = net.forward()
    w = net.getParam("ip2", 1)
    net.setParam("ip2", 1, w + np.arange(w.size, dtype=np.float32).reshape(w.shape))
    net.setInput(x)
    after = net.forward()
    net.setPreferableBackend(dnn.DNN_BACKEND_CUDA)      # our torch forward, on the CPU
    net.setInput(x)
    assert output_error(after, net.forward()) <= TRUST_TOL
    assert not np.allclose(before, after)
