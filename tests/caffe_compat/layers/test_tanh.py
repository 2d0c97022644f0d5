"""TanH against Caffe 1.0 (layerzoo_a_act, including the in-place TanH after a Power)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float32 tanh vs a float64 reference: a couple of ulps of values <= 1.
TOL = 2e-7


def test_tanh_matches_caffe():
    rows = check_layer_type("layerzoo_a_act", "TanH")
    assert any("inplace_act" in what for what, _ in rows)   # the in-place case is checked
    assert report(rows) <= min(FORWARD_TOL, BACKWARD_TOL)


def test_formula_and_backward():
    layer = make_layer('name: "t" type: "TanH"', (5,))
    x = np.array([-20.0, -0.5, 0.0, 0.5, 20.0], np.float32)
    y, dx = forward_backward(layer, x)
    assert np.abs(y - np.tanh(x.astype(np.float64))).max() <= TOL
    assert np.abs(dx - (1 - y.astype(np.float64) ** 2)).max() <= TOL


def test_no_bottom_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" input_param { shape { dim: 2 } } }
    layer { name: "tanh_nobottom" type: "TanH" top: "y" }
    """
    with pytest.raises(NetError, match="tanh_nobottom"):
        Net(text)
