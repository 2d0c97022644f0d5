"""Sigmoid against Caffe 1.0 (layerzoo_a_act)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Float64 reference vs a float32 result: half an ulp of values <= 1 (6e-8) plus margin.
TOL = 2e-7


def test_sigmoid_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Sigmoid"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_saturation_and_backward_from_output():
    layer = make_layer('name: "s" type: "Sigmoid"', (6,))
    x = np.array([-100.0, -5.0, 0.0, 1.0, 5.0, 100.0], np.float32)
    y, dx = forward_backward(layer, x)
    ref = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    assert np.abs(y - ref).max() <= TOL          # no overflow at +-100
    assert np.abs(dx - y * (1 - y)).max() <= TOL  # Caffe's dy * y * (1 - y)


def test_two_tops_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" input_param { shape { dim: 2 } } }
    layer { name: "sig_bad" type: "Sigmoid" bottom: "a" top: "y" top: "z" }
    """
    with pytest.raises(NetError, match="sig_bad"):
        Net(text)
