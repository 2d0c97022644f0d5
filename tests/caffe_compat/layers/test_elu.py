"""ELU against Caffe 1.0 (layerzoo_a_act: alpha 0.7)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# exp and a multiply in float32 vs NumPy's float32 exp: a couple of ulps at values <= 1.
TOL = 1e-6


def test_elu_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "ELU"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_formula_and_caffe_gradient_at_zero():
    layer = make_layer('name: "e" type: "ELU" elu_param { alpha: 0.7 }', (5,))
    x = np.array([-3.0, -0.2, 0.0, 0.2, 2.0], np.float32)
    y, dx = forward_backward(layer, x)
    a = np.float32(0.7)
    ref = np.maximum(x, 0) + a * (np.exp(np.minimum(x, 0)) - 1)
    assert np.abs(y - ref).max() <= TOL
    # Caffe: dx = (x > 0) + (alpha + y) * (x <= 0): alpha at x == 0, not 1.
    assert np.abs(dx - np.where(x > 0, 1.0, a + ref)).max() <= TOL
    assert dx[2] == pytest.approx(0.7, abs=TOL)


def test_two_bottoms_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } } }
    layer { name: "elu_two" type: "ELU" bottom: "a" bottom: "b" top: "y" }
    """
    with pytest.raises(NetError, match="elu_two"):
        Net(text)
