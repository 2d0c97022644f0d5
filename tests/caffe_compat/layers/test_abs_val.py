"""AbsVal against Caffe 1.0 (layerzoo_a_act)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# |x| and sign(x) are exact in floating point.
EXACT = 0.0


def test_absval_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "AbsVal"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_sign_of_zero_is_zero_in_backward():
    layer = make_layer('name: "a" type: "AbsVal"', (3,))
    x = np.array([-2.0, 0.0, 3.0], np.float32)
    y, dx = forward_backward(layer, x, dy=[5.0, 5.0, 5.0])
    assert np.abs(y - np.abs(x)).max() <= EXACT
    assert np.abs(dx - np.array([-5.0, 0.0, 5.0])).max() <= EXACT   # caffe_cpu_sign(0) == 0


def test_two_bottoms_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } } }
    layer { name: "abs_two" type: "AbsVal" bottom: "a" bottom: "b" top: "y" }
    """
    with pytest.raises(NetError, match="abs_two"):
        Net(text)
