"""A net run on shapes it does not take says which layer refuses them, where it is written and
what it takes, on every path: caffe_compat.Net's forward (with and without autograd), pycaffe's
``reshape`` / ``forward`` and cv2.dnn's ``setInput`` / ``forward``. Caffe checks these in each
layer's Reshape, which its Forward runs first (BaseConvolutionLayer::Reshape: "Input size
incompatible with convolution kernel"; InnerProductLayer::Reshape: "Input size incompatible
with inner product parameters"); the errors here come from the same rules, through one place
(caffe_compat/net/reshape.py)."""
import re

import numpy as np
import pytest
import torch

import caffe
from caffe_compat import Net
from caffe_compat import dnn
from caffe_compat.errors import NetError
from caffe_compat.net import reshape
from tests.conftest import REPO

DEPLOY = REPO / "examples" / "quickstart" / "deploy.prototxt"
CONV1 = re.escape(f"{DEPLOY}:5:1: layer 'conv1' (type Convolution): ")
FC2 = re.escape(f"{DEPLOY}:20:1: layer 'fc2' (type InnerProduct): ")
# (input shape, the error's start, what it must say about the shapes and the expectation)
CASES = [
    ((1, 3, 8, 8), CONV1, r"bottom shape \(1, 3, 8, 8\) has 3 channels .*the weights "
                          r"\(8, 1, 3, 3\) take 1"),
    ((1, 1, 2, 2), CONV1, r"output would be empty .*\(1, 1, 2, 2\).*set up for .*\(1, 1, 8, 8\)"),
    ((1, 1, 9, 9), FC2, r"input size 128 \(shape \(1, 8, 4, 4\).*K = 72.*set up for bottom "
                        r"shapes \[\(1, 8, 3, 3\)\]"),
]


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("shape,start,says", CASES)
def test_net_forward(shape, start, says, grad):
    net = Net(str(DEPLOY), phase="test")
    with torch.set_grad_enabled(grad), pytest.raises(NetError) as info:
        net.forward(data=np.zeros(shape, np.float32))
    assert re.match(start + ".*" + says, str(info.value)), str(info.value)


@pytest.mark.parametrize("call_reshape", [True, False], ids=["net.reshape", "no_reshape"])
@pytest.mark.parametrize("shape,start,says", CASES)
def test_pycaffe_after_reshape(shape, start, says, call_reshape):
    net = caffe.Net(str(DEPLOY), caffe.TEST)
    net.blobs["data"].reshape(*shape)
    if shape in INPUT_CHECKED:      # pycaffe checks the blob fed against the input first
        start, says = INPUT_CHECKED[shape]
    with pytest.raises(NetError) as info:
        if call_reshape:
            net.reshape()
        net.forward()
    assert re.match(start + ".*" + says, str(info.value)), str(info.value)


# what pycaffe's and cv2.dnn's input check (caffe_compat/net/input_check.py) says before any
# engine runs: the input, both shapes, the layer that fixes the channels, the fix
INPUT_CHECKED = {
    (1, 3, 8, 8): (re.escape(f"{DEPLOY}: input 'data' (1, 3, 8, 8): "),
                   r"takes 1 channel\(s\) \(1, 1, 8, 8\) \(layer 'conv1' \(Convolution\) "
                   r"reads it\); convert the image with cv2\.cvtColor"),
}


def test_cv2_dnn_keeps_the_position():
    net = dnn.readNetFromCaffe(str(DEPLOY))
    net.setInput(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(NetError) as info:
        net.forward()
    assert re.match(CONV1 + r".*output would be empty", str(info.value)), str(info.value)


def test_an_error_no_reshape_rule_predicts_gets_the_layer(monkeypatch):
    """A kernel's own error in a layer's forward (here a RuntimeError put into conv1's) names
    the layer, its type, its position and the bottom shapes, and keeps the original as its
    cause."""
    net = Net(str(DEPLOY), phase="test")
    conv = net.layer("conv1")

    def broken(*bottoms):
        raise RuntimeError("a kernel refused its input")
    monkeypatch.setattr(conv, "forward", broken)
    with pytest.raises(NetError) as info:
        net.forward(data=np.zeros((1, 1, 8, 8), np.float32))
    assert re.match(CONV1 + r"forward failed on bottom shapes \[\(1, 1, 8, 8\)\]: "
                    r"RuntimeError: a kernel refused its input", str(info.value)), str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_other_errors_pass_unchanged(monkeypatch):
    net = Net(str(DEPLOY), phase="test")
    monkeypatch.setattr(net.layer("conv1"), "forward",
                        lambda *b: (_ for _ in ()).throw(MemoryError("out of memory")))
    with pytest.raises(MemoryError):
        net.forward(data=np.zeros((1, 1, 8, 8), np.float32))
    assert reshape.explain(KeyboardInterrupt(), net._nodes, net.layers, {}).__class__ is \
        KeyboardInterrupt
