"""BNLL against Caffe 1.0 (layerzoo_a_act)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Relative to the float32-rounded reference: the result is the float32 rounding of a double
# computation, so at most an ulp or so apart (1.2e-7); 2.5e-7 leaves a margin of two.
REL_TOL = 2.5e-7


def test_bnll_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "BNLL"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_softplus_without_overflow():
    layer = make_layer('name: "b" type: "BNLL"', (6,))
    x = np.array([-200.0, -3.0, 0.0, 2.0, 60.0, 200.0], np.float32)
    y, dx = forward_backward(layer, x)
    xd = x.astype(np.float64)
    ref = np.logaddexp(0.0, xd).astype(np.float32)      # exp(-200) underflows to 0 in float32
    assert np.all(np.abs(y - ref) <= REL_TOL * np.abs(ref))
    # Caffe: e = exp(min(x, 50)), dx = e / (e + 1); saturates to 1 without inf/inf.
    e = np.exp(np.minimum(xd, 50.0))
    ref_dx = (e / (e + 1)).astype(np.float32)
    assert np.all(np.abs(dx - ref_dx) <= REL_TOL * ref_dx)
    assert dx[-1] == 1.0


def test_two_bottoms_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } } }
    layer { name: "bnll_two" type: "BNLL" bottom: "a" bottom: "b" top: "y" }
    """
    with pytest.raises(NetError, match="bnll_two"):
        Net(text)
