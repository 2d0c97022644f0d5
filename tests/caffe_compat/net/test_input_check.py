"""A blob the net cannot take gets one error, made before any engine runs, on every path:
cv2.dnn on torch, cv2.dnn in a program that never imported torch (the torch-free path, run in
a subprocess), pycaffe's ``forward(data=x)`` and pycaffe's blob reshape (both on the numpy
array engine). The error names the input, the shape fed, the shape declared, the layer whose
weights fix it and the fix; a 3-axis blob is blamed on the input, not on a later layer."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import caffe
from caffe_compat import Net, NetError, dnn
from caffe_compat.net import input_check
from tests.conftest import REPO

GREY = str(REPO / "prototxt" / "cnnd_deploy.prototxt")
COLOUR = """name: "colour"
layer { name: "data"  type: "Input"  top: "data"  input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
layer { name: "conv1"  type: "Convolution"  bottom: "data"  top: "conv1"
        convolution_param { num_output: 4  kernel_size: 3  weight_filler { type: "xavier" } } }
layer { name: "relu1"  type: "ReLU"  bottom: "conv1"  top: "conv1" }
layer { name: "pool1"  type: "Pooling"  bottom: "conv1"  top: "pool1"
        pooling_param { pool: AVE  global_pooling: true } }
layer { name: "fc"  type: "InnerProduct"  bottom: "pool1"  top: "fc"
        inner_product_param { num_output: 2  weight_filler { type: "xavier" } } }
"""
# (net, blob fed, what the message must say after "input 'data' <shape>: the net takes")
CASES = [
    ("grey", (1, 3, 96, 96), "1 channel(s) (1, 1, 96, 96)", "cv2.COLOR_BGR2GRAY"),
    ("grey", (1, 96, 96), "4 axes (1, 1, 96, 96)", "x[np.newaxis]"),
    ("grey", (1, 96, 96, 3), "1 channel(s) (1, 1, 96, 96)", "N x H x W x C"),
    ("colour", (1, 1, 16, 16), "3 channel(s) (1, 3, 16, 16)", "cv2.COLOR_GRAY2BGR"),
    ("grey", (5, 96, 96), "4 axes (1, 1, 96, 96)", "x[:, np.newaxis] is (5, 1, 96, 96)"),
    ("colour", (3, 16, 16), "4 axes (1, 3, 16, 16)", "x[np.newaxis] is (1, 3, 16, 16)"),
    ("colour", (2, 16, 16), "4 axes (1, 3, 16, 16)", "cv2.dnn.blobFromImage(img)"),
]
# the torch-free path: a cv2.dnn program that has not imported torch
_FREE = """
import json, sys
import numpy as np
from caffe_compat import dnn
out = []
for proto, model, shape in json.loads(sys.argv[1]):
    net = dnn.readNetFromCaffe(proto, model)
    net.setInput(np.zeros(shape, np.float32))
    try:
        net.forward()
        out.append(None)
    except Exception as e:
        out.append(f"{type(e).__name__}: {e}")
print(json.dumps({"errors": out, "torch": "torch" in sys.modules}))
"""


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """{net: (prototxt, caffemodel)} with weights written once."""
    folder = tmp_path_factory.mktemp("input_check")
    colour = folder / "colour.prototxt"
    colour.write_text(COLOUR)
    out = {}
    for key, proto in (("grey", GREY), ("colour", str(colour))):
        model = str(folder / f"{key}.caffemodel")
        Net(proto, phase="test", seed=5).save(model)
        out[key] = (proto, model)
    return out


def _dnn_error(proto, model, shape):
    net = dnn.readNetFromCaffe(proto, model)
    net.setInput(np.zeros(shape, np.float32))
    with pytest.raises(NetError) as info:
        net.forward()
    return f"{type(info.value).__name__}: {info.value}"


def _pycaffe_errors(proto, model, shape):
    """[the error of forward(data=x), the error of forward() after reshaping the input blob
    to x's shape]; the first is None where x broadcasts to the blob, which pycaffe's copy
    (``blobs['data'].data[...] = x``) fills, as real pycaffe does."""
    net = caffe.Net(proto, caffe.TEST, weights=model)
    assert net._arrays is not None               # the numpy array engine runs it
    declared = net.blobs["data"].data.shape
    if _broadcasts(shape, declared):
        net.forward(data=np.zeros(shape, np.float32))
        fed = None
    else:
        with pytest.raises(ValueError) as info:
            net.forward(data=np.zeros(shape, np.float32))
        fed = f"{type(info.value).__name__}: {info.value}"
    net.blobs["data"].reshape(*shape)
    with pytest.raises(ValueError) as reshaped:
        net.forward()
    return [fed, f"{type(reshaped.value).__name__}: {reshaped.value}"]


def _broadcasts(shape, declared):
    if tuple(shape[:1]) != tuple(declared[:1]):         # pycaffe's batch size check first
        return False
    try:
        return np.broadcast_shapes(shape, declared) == tuple(declared)
    except ValueError:
        return False


def test_one_error_on_every_path(nets):
    env = {k: v for k, v in os.environ.items() if k != "CAFFE_COMPAT_TORCH_FREE"}
    jobs = [(*nets[key], shape) for key, shape, _, _ in CASES]
    run = subprocess.run([sys.executable, "-c", _FREE, json.dumps(jobs)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    free = json.loads(run.stdout.strip().splitlines()[-1])
    assert not free["torch"], "the torch-free program imported torch"
    for (key, shape, takes, fix), torch_free in zip(CASES, free["errors"]):
        proto, model = nets[key]
        message = _dnn_error(proto, model, shape)
        assert message.startswith(f"InputShapeError: {proto}: input 'data' {shape}: the net "
                                  f"takes {takes} (layer 'conv1' (Convolution) reads it); ")
        assert fix in message, message
        assert "pool1" not in message and "weights" not in message
        assert torch_free == message
        fed = _pycaffe_errors(proto, model, shape)
        # a grey batch broadcasts to a colour net's blob, and (1, 96, 96) to (1, 1, 96, 96)
        broadcast = (key, shape) in (("colour", (1, 1, 16, 16)), ("grey", (1, 96, 96)))
        assert fed == [None if broadcast else message, message]


def test_what_the_net_takes_still_runs(nets):
    """Another batch or image size is the net's to reshape to: no error, on both nets."""
    for key, shape in (("grey", (2, 1, 100, 100)), ("colour", (3, 3, 20, 20))):
        proto, model = nets[key]
        net = dnn.readNetFromCaffe(proto, model)
        net.setInput(np.zeros(shape, np.float32))
        assert net.forward().shape[0] == shape[0]
        pycaffe = caffe.Net(proto, caffe.TEST, weights=model)
        pycaffe.blobs["data"].reshape(*shape)
        assert pycaffe.forward()[pycaffe.outputs[0]].shape[0] == shape[0]


def test_only_layers_with_learned_blobs_fix_the_input():
    """A net no weighted layer reads takes any blob; one read through ReLU and Pooling is
    checked at the convolution; an InnerProduct fixes the values per item only."""
    layers = [("pool", "Pooling", ["data"], ["p"]), ("relu", "ReLU", ["p"], ["p"]),
              ("conv", "Convolution", ["p"], ["c"]), ("fc", "InnerProduct", ["x"], ["f"]),
              ("loss", "EuclideanLoss", ["f", "label"], ["l"])]
    reading = input_check.readers(layers, ["data", "x", "label"])
    assert reading == {"data": ("conv", "Convolution"), "x": ("fc", "InnerProduct")}
    assert input_check.problem("x", (5, 2, 3), (1, 6), reading["x"]) is None
    assert "6 value(s) per item" in input_check.problem("x", (5, 7), (1, 6), reading["x"])
    input_check.check("n", {"label": (9,)}, {"label": (1, 1, 1, 1)}, reading)
