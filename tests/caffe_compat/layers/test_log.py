"""Log against Caffe 1.0 (layerzoo_a_act: base e with scale/shift, base 10 with shift)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float32 log and one multiply by 1/ln(base) vs float64: a few ulps of values up to ~3.
TOL = 1e-6


def test_log_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Log"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_base_ten():
    layer = make_layer('name: "l10" type: "Log" log_param { base: 10 }', (4,))
    x = np.array([0.01, 1.0, 10.0, 1000.0], np.float32)
    y, dx = forward_backward(layer, x)
    assert np.abs(y - np.array([-2.0, 0.0, 1.0, 3.0])).max() <= TOL
    assert np.abs(dx - 1.0 / (x.astype(np.float64) * np.log(10.0))).max() <= TOL * 100  # dx to 43


def test_scale_shift_and_nonpositive_input():
    layer = make_layer('name: "l" type: "Log" log_param { scale: 2 shift: 0.5 }', (3,))
    x = np.array([-0.25, 0.25, 1.0], np.float32)
    y, dx = forward_backward(layer, x)
    assert y[0] == -np.inf                     # log(0), as Caffe
    assert np.abs(y[1:] - np.log([1.0, 2.5])).max() <= TOL
    assert np.abs(dx[1:] - 2.0 / np.array([1.0, 2.5])).max() <= TOL


@pytest.mark.parametrize("base", [1, 0, -3])
def test_bad_base_names_layer(base):
    with pytest.raises(NetError, match="layer 'log_bad'.*base"):
        make_layer(f'name: "log_bad" type: "Log" log_param {{ base: {base} }}', (3,))
