"""Silence against Caffe 1.0 (layerzoo_a_struct: a Slice top silenced, its diff stays 0)."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Gradients of a plain sum of squares with small integers: exact.
EXACT = 0.0


def test_silence_matches_caffe():
    fwd, bwd = report("Silence", check_layer_type("layerzoo_a_struct", "Silence"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_silenced_blob_gets_a_zero_diff():
    net = input_net({"x": (2, 4), "t": (2, 2)}, '''
layer { name: "sl" type: "Slice" bottom: "x" top: "a" top: "b" }
layer { name: "quiet" type: "Silence" bottom: "b" }
layer { name: "loss" type: "EuclideanLoss" bottom: "a" bottom: "t" top: "l" }''')
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    net.forward(x=x, t=np.zeros((2, 2), np.float32))
    net.backward()
    assert not net.blobs["b"].diff.numpy().any()
    want = np.concatenate([x[:, :2] / 2, np.zeros((2, 2))], axis=1)  # (a - t) / N, N = 2
    assert np.abs(net.blobs["x"].diff.numpy() - want).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'quiet' \(type Silence\) takes exactly 0 top"):
        input_net({"x": (2, 3)}, 'layer { name: "quiet" type: "Silence" bottom: "x" top: "y" }')
    with pytest.raises(NetError, match=r"layer 'quiet' \(type Silence\) takes at least 1 bottom"):
        input_net({"x": (2, 3)}, 'layer { name: "quiet" type: "Silence" }')
