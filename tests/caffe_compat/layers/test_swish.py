"""Swish against Caffe 1.0 (layerzoo_a_act: beta 1.5)."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import forward_backward, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float32 products of values up to ~5 vs float64: a few ulps (~1e-6 absolute) with margin.
TOL = 3e-6


def test_swish_matches_caffe():
    worst = report(check_layer_type("layerzoo_a_act", "Swish"))
    assert worst <= min(FORWARD_TOL, BACKWARD_TOL)


def test_formula_and_caffe_backward_equals_derivative():
    beta = 1.5
    layer = make_layer(f'name: "s" type: "Swish" swish_param {{ beta: {beta} }}', (6,))
    x = np.array([-6.0, -1.0, -0.1, 0.0, 0.7, 4.0], np.float32)
    y, dx = forward_backward(layer, x)
    xd = x.astype(np.float64)
    s = 1 / (1 + np.exp(-beta * xd))
    assert np.abs(y - xd * s).max() <= TOL
    # Caffe's beta*y + s*(1 - beta*y) is the true derivative s + beta*x*s*(1-s).
    assert np.abs(dx - (s + beta * xd * s * (1 - s))).max() <= TOL


def test_default_beta_is_one():
    layer = make_layer('name: "s" type: "Swish"', (2,))
    assert np.abs(layer(torch.tensor([1.0, -2.0])).numpy()
                  - np.array([1, -2]) / (1 + np.exp(-np.array([1.0, -2.0])))).max() <= TOL


def test_two_bottoms_names_layer():
    text = """
    layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } } }
    layer { name: "swish_two" type: "Swish" bottom: "a" bottom: "b" top: "y" }
    """
    with pytest.raises(NetError, match="swish_two"):
        Net(text)
