"""A dnn Net's forward that takes the last forward's way again (caffe_compat.dnn.route): the
same outputs as the full way, and the full way again wherever what the way was chosen on
changed (the layers asked for, the input shape, backend, target, OpenCV's thread count, the
input fit, the plan forgotten, more threads given)."""
import numpy as np
import pytest

from caffe_compat import dnn
from caffe_compat.onnx_path import runtime
from tests.caffe_compat.onnx_path.helpers import lite_mode, seeded_model

TEXT = """name: "t"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "fc" type: "InnerProduct" bottom: "c" top: "fc" inner_product_param { num_output: 5 } }
"""
# the torch path's sums against a runtime's: float32 in another order through two layers
TOL = 1e-5


@pytest.fixture
def net(engine_cache, monkeypatch):
    monkeypatch.setenv(runtime.ENV_RUNTIME, "onnxruntime")    # (no trial: one runtime)
    pytest.importorskip("onnxruntime")
    with lite_mode("on"):
        got = dnn.readNetFromCaffe(bufferProto=TEXT.encode(), bufferModel=seeded_model(TEXT))
    assert got._torch_free is not None
    return got


def _x(batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, 3, 8, 8)).astype(np.float32)


def _taken(net):
    """Whether the last forward left a route for the next."""
    return net.__dict__.get("_route") is not None


def test_second_forward_takes_the_route_with_the_same_outputs(net):
    net.setInput(_x())
    first = net.forward()
    route = net.__dict__["_route"]
    assert route is not None
    forwards = net._torch_free.forwards
    net.setInput(_x(seed=1))
    second = net.forward()
    assert net.__dict__["_route"] is route                      # taken, not made again
    assert net._torch_free.forwards == forwards + 1
    # the full way on the same input gives the same bits (the same session)
    net.__dict__["_route"] = None
    again = net.forward()
    assert np.array_equal(second, again) and not np.array_equal(first, second)
    total, per_layer = net.getPerfProfile()
    assert total > 0 and per_layer.shape == (len(net.getLayerNames()),)


def test_other_layers_or_shape_take_the_full_way(net):
    net.setInput(_x())
    net.forward()
    route = net.__dict__["_route"]
    conv = net.forward("c")                                     # another layer asked for
    assert conv.shape == (2, 4, 6, 6) and net.__dict__["_route"] is not route
    net.setInput(_x(batch=3))                                   # another shape
    out = net.forward()
    assert out.shape == (3, 5)
    assert net.__dict__["_route"].shapes == ((3, 3, 8, 8),)
    both = net.forward(["c", "fc"])
    assert [b.shape for b in both] == [(3, 4, 6, 6), (3, 5)]


def test_backend_target_and_thread_count_changes_take_the_full_way(net):
    import cv2
    x = _x()
    net.setInput(x)
    free = net.forward()
    net.setPreferableBackend(dnn.DNN_BACKEND_CUDA)              # the torch path
    ours = net.forward()
    assert net.__dict__["_route"] is None
    assert float(np.abs(ours - free).max()) <= TOL * float(np.abs(free).max())
    net.setPreferableBackend(dnn.DNN_BACKEND_DEFAULT)
    net.forward()
    assert _taken(net)
    route = net.__dict__["_route"]
    with pytest.warns(RuntimeWarning, match="runs on the CPU"):
        net.setPreferableTarget(dnn.DNN_TARGET_OPENCL)
    net.forward()
    assert net.__dict__["_route"] is not route and net.__dict__["_route"].state[1] == \
        dnn.DNN_TARGET_OPENCL
    saved = cv2.getNumThreads()
    entry = net._torch_free.last[1]
    try:
        cv2.setNumThreads(1 if saved != 1 else 2)
        net.forward()                                           # sessions made again
        assert net._torch_free.last[1] is not entry
    finally:
        cv2.setNumThreads(saved)
        net.forward()


def test_forgotten_plan_or_more_threads_take_the_full_way(net):
    net.setInput(_x())
    net.forward()
    entry = net._torch_free.last[1]
    net._torch_free.forget_sessions()
    net.forward()
    assert net._torch_free.last[1] is not entry
    entry = net._torch_free.last[1]
    net._torch_free._watch.built = 0             # sessions made on fewer threads than now
    net.forward()
    assert net._torch_free.last[1] is not entry and net._torch_free._watch.built is not None


def test_input_fit_forgotten_takes_the_full_way(engine_cache):
    text = TEXT.replace('layer { name: "in" type: "Input" top: "data" input_param { shape { '
                        'dim: 2 dim: 3 dim: 8 dim: 8 } } }', 'input: "data"')
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=seeded_model(TEXT))
    net.setInput(_x())
    net.forward()
    assert _taken(net)
    net.setInputShape("data", (2, 3, 8, 8))
    net.forward()
    assert net.__dict__["_route"].fit is net.__dict__["_fed_fit"] is not None


def test_engine_variable_is_read_when_the_net_is_read(engine_cache, monkeypatch):
    monkeypatch.delenv("CAFFE_COMPAT_ENGINE", raising=False)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=TEXT.encode(), bufferModel=seeded_model(TEXT))
        monkeypatch.setenv("CAFFE_COMPAT_ENGINE", "torch")
        pinned = dnn.readNetFromCaffe(bufferProto=TEXT.encode(),
                                      bufferModel=seeded_model(TEXT))
    for each in (net, pinned):
        each.setInput(_x())
        each.forward()
    assert _taken(net) and not _taken(pinned)       # the torch path for the net read after
