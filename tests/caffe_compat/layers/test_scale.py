"""Scale against Caffe 1.0 (layerzoo_a_struct: learned scale with bias; scale from a second
bottom with axis 0) and its rules: blob shapes from axis/num_axes, default filler 1, scalars."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 unit checks: one product and one sum per value.
F64_TOL = 1e-12


def test_scale_matches_caffe():
    fwd, bwd = report("Scale", check_layer_type("layerzoo_a_struct", "Scale"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, blob_shape", [
    ("", (3,)), ("axis: 1 num_axes: 2", (3, 4)), ("axis: -1", (5,)),
    ("num_axes: -1", (3, 4, 5)), ("num_axes: 0", ()),
])
def test_learned_blob_shapes_and_broadcast(spec, blob_shape):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 4, 5))
    layer = make_layer(f'name: "s" type: "Scale" bottom: "x" top: "y" '
                       f'scale_param {{ {spec} bias_term: true }}', x.shape).double()
    assert [tuple(b.shape) for b in layer.blobs] == [blob_shape, blob_shape]
    s, b = rng.normal(size=blob_shape), rng.normal(size=blob_shape)
    with torch.no_grad():
        layer.scale.copy_(torch.tensor(s))
        layer.bias.copy_(torch.tensor(b))
    axis = {"axis: -1": 3}.get(spec, 1)
    view = (1,) * axis + blob_shape + (1,) * (4 - axis - len(blob_shape))
    t = leaf(x)
    top = layer(t)
    assert np.abs(top.detach().numpy() - (x * s.reshape(view) + b.reshape(view))).max() <= F64_TOL
    top.sum().backward()
    reduce = tuple(i for i, d in enumerate(view) if d == 1)
    assert np.abs(layer.scale.grad.numpy() - x.sum(axis=reduce).reshape(blob_shape)).max() \
        <= F64_TOL
    assert np.abs(t.grad.numpy() - np.broadcast_to(s.reshape(view), x.shape)).max() <= F64_TOL


def test_default_fillers_make_the_identity():
    net = input_net({"x": (2, 3)}, 'layer { name: "s" type: "Scale" bottom: "x" top: "y" '
                    'scale_param { bias_term: true } }')
    scale, bias = net.params["s"]
    assert torch.equal(scale.detach(), torch.ones(3)) and torch.equal(bias.detach(),
                                                                       torch.zeros(3))


def test_second_bottom_scale_and_its_gradient():
    rng = np.random.default_rng(8)
    x, s = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 5))
    layer = make_layer('name: "s" type: "Scale" bottom: "x" bottom: "s" top: "y" '
                       'scale_param { axis: 0 bias_term: true }', x.shape, s.shape).double()
    # With a second bottom the only blob is the bias, spanning ndim(bottom 1) axes.
    assert [tuple(b.shape) for b in layer.blobs] == [(4, 5)]
    tx, ts = leaf(x), leaf(s)
    top = layer(tx, ts)
    assert np.abs(top.detach().numpy() - x * s[..., None]).max() <= F64_TOL
    top.sum().backward()
    assert np.abs(ts.grad.numpy() - x.sum(axis=2)).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'sc'.*does not match bottom shape"):
        make_layer('name: "sc" type: "Scale" bottom: "x" bottom: "s" top: "y"',
                   (2, 3, 4), (4,))
    with pytest.raises(NetError, match=r"layer 'sc'.*extends past the bottom shape"):
        make_layer('name: "sc" type: "Scale" bottom: "x" top: "y" '
                   'scale_param { axis: 1 num_axes: 3 }', (2, 3, 4))
    with pytest.raises(NetError, match=r"layer 'sc'.*num_axes must be non-negative"):
        make_layer('name: "sc" type: "Scale" bottom: "x" top: "y" '
                   'scale_param { num_axes: -2 }', (2, 3, 4))
