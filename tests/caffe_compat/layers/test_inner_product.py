"""InnerProduct against Caffe 1.0 (layerzoo_a_conv: axis 2, transpose, plain, no bias; the
CNN+D nets' fc4/fc5 on C,H,W-ordered features) and its axis/transpose rules."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64: each output is a sum of 20 products.
F64_TOL = 1e-12


@pytest.mark.parametrize("fixture", ["layerzoo_a_conv", "cnnd_trainval_test", "deploy_cnnd"])
def test_inner_product_matches_caffe(fixture):
    fwd, bwd = report(f"InnerProduct ({fixture})", check_layer_type(fixture, "InnerProduct"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("axis", [1, 2, -1])
def test_axis_flattens_the_rest_and_transpose_swaps_the_weights(axis, transpose):
    rng = np.random.default_rng(23)
    x = rng.normal(size=(2, 3, 4, 5))
    a = axis % 4
    k = int(np.prod(x.shape[a:]))
    layer = make_layer(f'name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
                       f'inner_product_param {{ num_output: 7 axis: {axis} '
                       f'transpose: {"true" if transpose else "false"} }}', x.shape).double()
    wshape = (k, 7) if transpose else (7, k)
    assert tuple(layer.weight.shape) == wshape
    w, b = rng.normal(size=wshape), rng.normal(size=7)
    layer.weight.data.copy_(torch.from_numpy(w))
    layer.bias.data.copy_(torch.from_numpy(b))
    flat = x.reshape(x.shape[:a] + (k,))
    want = flat @ (w if transpose else w.T) + b
    assert layer.top_shapes([x.shape]) == [want.shape]
    assert np.abs(layer(leaf(x)).detach().numpy() - want).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'ip'.*num_output must be positive"):
        make_layer('name: "ip" type: "InnerProduct" bottom: "x" top: "y"', (2, 3))
    layer = make_layer('name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
                       'inner_product_param { num_output: 2 }', (2, 3))
    with pytest.raises(NetError, match=r"layer 'ip'.*does not match the weights' K = 3"):
        layer.top_shapes([(2, 4)])
