"""Bias against Caffe 1.0 (layerzoo_a_struct: learned, axis 1 num_axes 1) and its rules:
blob shape, second-bottom variant, scalar bias, default filler 0."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 unit checks: one addition per value, gradient sums of a few dozen ones.
F64_TOL = 1e-12


def test_bias_matches_caffe():
    fwd, bwd = report("Bias", check_layer_type("layerzoo_a_struct", "Bias"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, b_shape, view", [
    ("", (3, 4), (1, 3, 4)),
    ("axis: 0", (2, 3), (2, 3, 1)),
    ("axis: -1", (4,), (1, 1, 4)),
    ("", (), (1, 1, 1)),  # a scalar bias ignores axis
])
def test_second_bottom_bias_broadcast_and_gradients(spec, b_shape, view):
    rng = np.random.default_rng(9)
    x, b = rng.normal(size=(2, 3, 4)), rng.normal(size=b_shape)
    layer = make_layer(f'name: "b" type: "Bias" bottom: "x" bottom: "b" top: "y" '
                       f'bias_param {{ {spec} }}', x.shape, b_shape)
    assert layer.blobs == []
    tx, tb = leaf(x), leaf(b)
    top = layer(tx, tb)
    assert np.abs(top.detach().numpy() - (x + b.reshape(view))).max() <= F64_TOL
    top.sum().backward()
    reduce = tuple(i for i, d in enumerate(view) if d == 1)
    assert np.abs(tb.grad.numpy() - np.ones_like(x).sum(axis=reduce).reshape(b_shape)).max() \
        <= F64_TOL
    assert np.abs(tx.grad.numpy() - 1.0).max() <= F64_TOL


def test_learned_blob_shape_and_default_filler():
    net = input_net({"x": (2, 3, 4, 5)}, 'layer { name: "b" type: "Bias" bottom: "x" top: "y" '
                    'bias_param { num_axes: 2 } }')
    (bias,) = net.params["b"]
    assert tuple(bias.shape) == (3, 4) and torch.equal(bias.detach(), torch.zeros(3, 4))


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'bi'.*does not match bottom shape"):
        make_layer('name: "bi" type: "Bias" bottom: "x" bottom: "b" top: "y"', (2, 3), (2,))
    with pytest.raises(NetError, match=r"layer 'bi'.*extends past"):
        make_layer('name: "bi" type: "Bias" bottom: "x" top: "y" '
                   'bias_param { axis: 1 num_axes: 2 }', (2, 3))
