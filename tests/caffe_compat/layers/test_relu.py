"""ReLU against Caffe 1.0 (layerzoo_a_act: plain and negative_slope 0.1)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# max(x,0) + s*min(x,0) is one float multiply: identical to a float32 NumPy evaluation.
EXACT = 0.0


def test_relu_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "ReLU"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_negative_slope_and_gradient_at_zero():
    layer = make_layer('name: "r" type: "ReLU" relu_param { negative_slope: 0.1 }', (5,))
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    y, dx = forward_backward(layer, x)
    ref = np.maximum(x, 0) + np.float32(0.1) * np.minimum(x, 0)
    assert np.abs(y - ref).max() <= EXACT
    # Caffe's backward: (x > 0) + slope * (x <= 0), so x == 0 takes the slope.
    assert np.abs(dx - np.where(x > 0, 1, np.float32(0.1))).max() <= EXACT


def test_bad_top_count_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 } } }
    layer { name: "bad_relu" type: "ReLU" bottom: "x" top: "a" top: "b" }
    """
    with pytest.raises(NetError, match="bad_relu"):
        Net(text)
