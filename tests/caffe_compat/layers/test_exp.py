"""Exp against Caffe 1.0 (layerzoo_a_act: base e with scale/shift, base 2)."""
import math

import numpy as np
import pytest

from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Relative: exp of a float32 argument vs float64 reference, a few ulps (~1e-7) with margin.
REL_TOL = 1e-6


def rel_err(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_exp_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Exp"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_base_two():
    layer = make_layer('name: "e2" type: "Exp" exp_param { base: 2 }', (5,))
    x = np.array([-3.0, -1.0, 0.0, 1.5, 10.0], np.float32)
    y, dx = forward_backward(layer, x)
    assert rel_err(y, 2.0 ** x.astype(np.float64)) <= REL_TOL
    assert rel_err(dx, math.log(2) * 2.0 ** x.astype(np.float64)) <= REL_TOL


def test_base_e_with_scale_and_shift():
    layer = make_layer('name: "e" type: "Exp" exp_param { scale: 0.5 shift: 0.1 }', (3,))
    x = np.array([-2.0, 0.0, 3.0], np.float32)
    y, dx = forward_backward(layer, x)
    ref = np.exp(0.1 + 0.5 * x.astype(np.float64))     # base -1 means e; shift uses exp too
    assert rel_err(y, ref) <= REL_TOL and rel_err(dx, 0.5 * ref) <= REL_TOL


@pytest.mark.parametrize("base", [0, -2])
def test_nonpositive_base_names_layer(base):
    with pytest.raises(NetError, match="layer 'exp_bad'.*base"):
        make_layer(f'name: "exp_bad" type: "Exp" exp_param {{ base: {base} }}', (3,))
