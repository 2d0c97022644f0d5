"""Power against Caffe 1.0 (layerzoo_a_act: affine, square, cube, sqrt, in-place source)."""
import numpy as np
import pytest

from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# A scale, a shift and one pow in float32 vs NumPy float32: a few ulps of values around 1-10.
TOL = 1e-5


def power_layer(power, scale=1.0, shift=0.0, n=4):
    text = (f'name: "pw" type: "Power" power_param {{ power: {power} scale: {scale} '
            f'shift: {shift} }}')
    return make_layer(text, (n,))


def test_power_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Power"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_sqrt_at_zero_gives_caffe_nan_gradient():
    # shift == 0: Caffe's dy/dx = power * y / x, which is 0/0 at x == 0.
    y, dx = forward_backward(power_layer(0.5), [0.0, 1.0, 4.0, 9.0])
    assert np.array_equal(y, [0.0, 1.0, 2.0, 3.0])
    assert np.isnan(dx[0])
    assert np.abs(dx[1:] - 0.5 / np.sqrt([1.0, 4.0, 9.0])).max() <= TOL


def test_power_zero_is_one_everywhere_with_zero_gradient():
    # diff_scale = power * scale == 0: the input is ignored, even where the base is 0 or negative.
    y, dx = forward_backward(power_layer(0.0, scale=2.0, shift=-1.0), [0.5, -3.0, 0.0, 7.0])
    assert np.array_equal(y, np.ones(4)) and np.array_equal(dx, np.zeros(4))


def test_scale_zero_gives_shift_to_the_power():
    y, dx = forward_backward(power_layer(3.0, scale=0.0, shift=2.0), [1.0, -5.0, 0.0, 9.0])
    assert np.array_equal(y, np.full(4, 8.0)) and np.array_equal(dx, np.zeros(4))


def test_general_case_matches_numpy():
    x = np.array([-1.5, -0.2, 0.4, 2.0], np.float32)
    y, dx = forward_backward(power_layer(3.0, scale=-0.7, shift=0.2), x)
    b = np.float32(0.2) + np.float32(-0.7) * x
    assert np.abs(y - b ** 3).max() <= TOL
    assert np.abs(dx - 3 * np.float32(-0.7) * b ** 2).max() <= TOL
    y, dx = forward_backward(power_layer(1.0, scale=4.0, shift=-2.0), x)
    assert np.abs(y - (4 * x - 2)).max() <= TOL and np.array_equal(dx, np.full(4, 4.0))


def test_negative_base_fractional_power_is_nan():
    y, _ = forward_backward(power_layer(0.5, shift=-1.0), [0.0, 1.0, 2.0, 5.0])
    assert np.isnan(y[0]) and y[1] == 0.0


def test_missing_bottom_names_layer():
    from caffe_compat import Net
    from caffe_compat.errors import NetError
    with pytest.raises(NetError, match="pw_nobottom"):
        Net('layer { name: "pw_nobottom" type: "Power" top: "y" }')
