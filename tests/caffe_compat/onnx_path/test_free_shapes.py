"""Inputs whose shape changes from call to call (an image pyramid, crop batches): a fully
convolutional net's plans for every shape share one runtime session of the model with free
lengths, and every shape's outputs equal the reference's; a net whose nodes depend on the
shape (global pooling's window, a Reshape's dims) gets one session per shape, also right."""
import numpy as np
import pytest

from caffe_compat import dnn
from caffe_compat.onnx_path import runtime as lite_runtime

from .helpers import exact, lite_mode, scaled_error, seeded_model

# float32 in another summation order through two convolutions (tests/caffe_compat/onnx_path:
# LAYER_TOL's reason)
TOL = 1e-5

CONV = """name: "pyramid"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 6 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "prob" type: "Softmax" bottom: "conv2" top: "prob" }
layer { name: "conv3" type: "Convolution" bottom: "pool1" top: "reg" convolution_param { num_output: 4 kernel_size: 3 } }
"""
GLOBAL = """name: "global"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 6 kernel_size: 3 } }
layer { name: "pool" type: "Pooling" bottom: "conv1" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "flat" type: "Reshape" bottom: "pool" top: "flat" reshape_param { shape { dim: 0 dim: -1 } } }
layer { name: "ave" type: "Pooling" bottom: "conv1" top: "ave" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
"""
# a pyramid's shapes, one twice, then crop batches of changing size
SHAPES = [(1, 3, 12, 12), (1, 3, 40, 31), (1, 3, 28, 22), (1, 3, 40, 31), (1, 3, 19, 15),
          (5, 3, 24, 24), (2, 3, 24, 24), (7, 3, 24, 24)]


def _feeds(seed=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, s).astype(np.float32) for s in SHAPES]


@pytest.mark.parametrize("runtime", ["onnxruntime", "opencv"])
def test_one_session_for_every_shape(runtime, tmp_path, monkeypatch):
    if runtime not in lite_runtime.available():
        pytest.skip(f"{runtime} is not installed")
    monkeypatch.setenv(lite_runtime.ENV_RUNTIME, runtime)
    model = seeded_model(CONV, seed=1)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
        got = []
        for x in _feeds():
            net.setInput(x)
            got.append(net.forward(["prob", "reg"]))
    assert net._torch_free is not None, "the net left the torch-free path"
    free = net._torch_free._free
    # pool1's last window passes the input on an odd length, not on an even one: at most
    # four functions over the shapes
    assert 1 <= len(free) <= 4, f"{len(free)} sessions with free lengths"
    for x, outs in zip(_feeds(), got):
        want = exact(CONV, model, {"data": x}, ["prob", "reg"], tmp_path)
        for name, a in zip(["prob", "reg"], outs):
            assert a.shape == want[name].shape, (x.shape, name)
            assert scaled_error(a, want[name]) <= TOL, (x.shape, name)


@pytest.mark.parametrize("outputs", [["flat"], ["flat", "ave"]])
def test_shape_dependent_nodes(outputs, tmp_path):
    """Global pooling and a Reshape of ``0, -1`` are written alike for every shape (one
    session); Caffe's padded average pooling is written with the pads and divisors of each
    shape (a session per shape): right either way."""
    model = seeded_model(GLOBAL, seed=2)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=GLOBAL.encode(), bufferModel=model)
        got = []
        for x in _feeds()[:4]:
            net.setInput(x)
            got.append(net.forward(outputs))
    assert net._torch_free is not None
    for x, outs in zip(_feeds()[:4], got):
        want = exact(GLOBAL, model, {"data": x}, outputs, tmp_path)
        for name, a in zip(outputs, outs):
            assert a.shape == want[name].shape and scaled_error(a, want[name]) <= TOL, x.shape


def test_signature_ignores_shapes_only():
    from caffe_compat.onnx_path import graph
    layers, weights = _layers(CONV, seeded_model(CONV, seed=1))
    a = graph.build(layers, [("data", (1, 3, 12, 12))], weights, ["prob", "reg"])
    # conv1 gives 14 x 18 (10 x 10 for 12 x 12): pool1's last windows pass the input alike
    b = graph.build(layers, [("data", (2, 3, 16, 20))], weights, ["prob", "reg"])
    assert a.signature() == b.signature()
    weights2 = {k: [v * 2 for v in arrays] for k, arrays in weights.items()}
    c = graph.build(layers, [("data", (1, 3, 12, 12))], weights2, ["prob", "reg"])
    assert c.signature() != a.signature()


def _layers(text, model):
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
    lite_net = net._torch_free
    return lite_net.layers, lite_net._weights_fn()


def test_signature_keys_of_values():
    """A part's signature holds small values as they are and larger computed ones as a digest:
    equal values give equal keys, one changed value another key."""
    import numpy as np

    from caffe_compat.onnx_path.graph import _VALUES_KEPT, _array_key
    for size in (16, _VALUES_KEPT // 4 + 1):        # within and beyond the values kept
        a = np.arange(size, dtype=np.float32)
        b = a.copy()
        assert _array_key(a) == _array_key(b)
        b[-1] += 1
        assert _array_key(a) != _array_key(b)
        assert _array_key(a) != _array_key(a.reshape(1, -1))     # the layout counts


def _refusal(net, shape):
    """The net's answer for an input of ``shape``: its output shapes, or its refusal as
    (type, words)."""
    from caffe_compat.errors import NetError
    net.setInput(np.ones(shape, np.float32))
    try:
        return [a.shape for a in net.forward(["prob", "reg"])]
    except NetError as exc:
        return type(exc).__name__, str(exc)


def test_a_too_small_shape_is_refused_on_a_net_with_a_template():
    """Once shapes run on a template plan (each layer's rule record kept), an input too small
    for conv1, for pool1 or for conv2 is refused at its first forward, in the words of a net
    read anew and fed that shape (Caffe's empty output), again at the next, and the net runs
    the next shape that fits."""
    model = seeded_model(CONV, seed=1)
    small = [(1, 3, 4, 4), (1, 3, 3, 3), (1, 3, 2, 2), (1, 3, 4, 9)]
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
        for shape in SHAPES[1:3]:
            assert isinstance(_refusal(net, shape), list)
        assert net._torch_free._templates, "no template plan"
        for shape in small + small:
            anew = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
            want = _refusal(anew, shape)
            assert want[0] == "NetError" and "output would be empty" in want[1], want
            assert _refusal(net, shape) == want, shape
        assert _refusal(net, SHAPES[4]) == [(1, 2, 6, 4), (1, 4, 6, 4)]
    assert net._torch_free is not None


def test_kept_rules_give_the_keys_and_outputs_of_rules_applied_anew():
    """The template keys of a net that keeps its layers' rule records from shape to shape
    equal those of a net that applies the rules for the first time at each shape, and so do
    its outputs, within float32 rounding of another session."""
    from caffe_compat.onnx_path import TorchFreeNet
    model = seeded_model(CONV, seed=1)
    wanted = ("prob", "reg")
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
        lite = net._torch_free
        for x in _feeds():
            net.setInput(x)
            got = net.forward(list(wanted))
            anew = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
            anew.setInput(x)
            want = anew.forward(list(wanted))
            for a, b in zip(got, want):
                assert a.shape == b.shape and scaled_error(a, b) <= TOL, x.shape
            fresh = TorchFreeNet(lite.layers, lite.inputs, lite._weights_fn, lite.name)
            assert lite._template_key((x.shape,), wanted) == \
                fresh._template_key((x.shape,), wanted) is not None, x.shape


@pytest.mark.parametrize("runtime", ["onnxruntime", "opencv"])
def test_the_plan_written_at_read_time_is_the_template_of_its_key(runtime, tmp_path,
                                                                  monkeypatch):
    """A net read for 1 x 3 x 12 x 12 and fed a pyramid level of the same key (ranks,
    channels, what the layers read of the lengths) at its first forward runs the plan written
    when it was read, on a session with free lengths: no graph written after the read, and
    the outputs of a net fed that shape anew."""
    from caffe_compat.onnx_path import graph
    if runtime not in lite_runtime.available():
        pytest.skip(f"{runtime} is not installed")
    monkeypatch.setenv(lite_runtime.ENV_RUNTIME, runtime)
    model = seeded_model(CONV, seed=1)
    shape = (1, 3, 40, 30)           # conv1: 38 x 28; pool1's windows pass it as at 12 x 12
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=CONV.encode(), bufferModel=model)
        read_time = net._torch_free._checked[3]
        key = net._torch_free._template_key((shape,), ("prob", "reg"))
        assert key is not None and key in net._torch_free._templates
        builds = []
        monkeypatch.setattr(graph, "build", lambda *a, **k: builds.append(a) or
                            pytest.fail("a graph written after the read"))
        x = np.random.default_rng(4).normal(0, 1, shape).astype(np.float32)
        net.setInput(x)
        got = net.forward(["prob", "reg"])
        (_, plan, _), = net._torch_free.plans()
        assert plan is read_time and not builds
        monkeypatch.undo()
        monkeypatch.setenv(lite_runtime.ENV_RUNTIME, runtime)
        want = exact(CONV, model, {"data": x}, ["prob", "reg"], tmp_path)
    for name, a in zip(["prob", "reg"], got):
        assert a.shape == want[name].shape and scaled_error(a, want[name]) <= TOL, name
