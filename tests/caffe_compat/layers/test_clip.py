"""Clip against Caffe 1.0 (layerzoo_a_act: min -0.5, max 1)."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Clipping selects values, it computes nothing: exact.
EXACT = 0.0


def test_clip_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Clip"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_bounds_are_inclusive_in_backward_and_nan_becomes_min():
    layer = make_layer('name: "c" type: "Clip" clip_param { min: -0.5 max: 1 }', (6,))
    x = np.array([-2.0, -0.5, 0.3, 1.0, 4.0, np.nan], np.float32)
    y, dx = forward_backward(layer, x)
    # NaN -> min: std::max(min, NaN) returns min
    assert np.abs(y - np.float32([-0.5, -0.5, 0.3, 1, 1, -0.5])).max() <= EXACT
    assert np.abs(dx - [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]).max() <= EXACT


@pytest.mark.parametrize("param", ["clip_param { min: 0 }", "", "clip_param { min: 2 max: 1 }"])
def test_bad_bounds_name_layer(param):
    with pytest.raises(NetError, match="layer 'clip_bad'.*(min|max)"):
        make_layer(f'name: "clip_bad" type: "Clip" {param}', (3,))
