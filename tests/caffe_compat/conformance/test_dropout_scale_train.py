"""Dropout's ``scale_train`` (OpenCV's fork of the schema) in the TEST phase: with ``false`` and
a ratio above 0 the top is the bottom times ``1 - dropout_ratio``, else the bottom; the array
engine and the torch-free path give the torch layer's values, bit for bit."""

import numpy as np
import pytest

from caffe_compat import Net

SHAPE = (2, 3, 4, 5)


def _net(ratio, scale_train):
    return f"""name: "dropout"
layer {{ name: "data" type: "Input" top: "data"
  input_param {{ shape {{ dim: {SHAPE[0]} dim: {SHAPE[1]} dim: {SHAPE[2]} dim: {SHAPE[3]} }} }} }}
layer {{ name: "drop" type: "Dropout" bottom: "data" top: "out"
  dropout_param {{ dropout_ratio: {ratio} scale_train: {str(scale_train).lower()} }} }}
"""


def _feed():
    return np.random.default_rng(3).normal(0, 1, SHAPE).astype(np.float32)


def _reference(text, x):
    out = Net(text, phase="test").forward(blobs=["out"], data=x)
    return out["out"].detach().numpy().astype(np.float32)


def _array(text, x):
    from caffe_compat.array_net.net import ArrayNet
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.net.graph import build_graph
    arrays = ArrayNet(build_graph(parse_net(text), "TEST", 0, []))
    arrays.reshape_blob("data", x.shape)
    arrays.data["data"][...] = x
    arrays.forward()
    return np.array(arrays.data["out"])


def _lite(text, x):
    from caffe_compat import dnn
    from tests.caffe_compat.onnx_path.helpers import lite_mode
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode())
        net.setInput(x, "data")
        got = net.forward("drop")
        assert net._torch_free is not None, "the net left the torch-free path"
    return np.asarray(got, np.float32)


CASES = [pytest.param(ratio, scale_train, id=f"ratio {ratio} scale_train {scale_train}")
         for ratio in (0, 0.25, 0.3) for scale_train in (False, True)]


@pytest.mark.parametrize("ratio, scale_train", CASES)
@pytest.mark.parametrize("engine", ("array", "lite"))
def test_dropout_in_test_equals_the_torch_layer(engine, ratio, scale_train):
    text = _net(ratio, scale_train)
    x = _feed()
    want = _reference(text, x)
    expected = x if scale_train or ratio == 0 else x * np.float32(1.0 - float(np.float32(ratio)))
    np.testing.assert_array_equal(want, expected)
    got = {"array": _array, "lite": _lite}[engine](text, x)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
