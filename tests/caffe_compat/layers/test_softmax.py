"""Softmax against Caffe 1.0 (layerzoo_a_struct: axis 1 and axis 2) and its formula/gradient."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64: a handful of exponentials and one sum per value.
F64_TOL = 1e-12


def test_softmax_matches_caffe():
    fwd, bwd = report("Softmax", check_layer_type("layerzoo_a_struct", "Softmax"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_axis_formula_and_gradient(axis):
    rng = np.random.default_rng(24)
    x, dy = rng.normal(size=(2, 3, 4)) * 50, rng.normal(size=(2, 3, 4))  # large: max shift
    layer = make_layer(f'name: "s" type: "Softmax" bottom: "x" top: "y" '
                       f'softmax_param {{ axis: {axis} }}', x.shape)
    t = leaf(x)
    top = layer(t)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    assert np.abs(top.detach().numpy() - y).max() <= F64_TOL
    top.backward(torch.from_numpy(dy))
    want = y * (dy - (dy * y).sum(axis=axis, keepdims=True))  # Caffe's backward
    assert np.abs(t.grad.numpy() - want).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'sm'.*axis 3 out of range"):
        make_layer('name: "sm" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: 3 }',
                   (2, 3, 4))
