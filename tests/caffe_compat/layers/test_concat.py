"""Concat against Caffe 1.0 (layerzoo_a_struct: axis 1 and axis 2) and its rules."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Concat only copies values: ours must be bit-identical.
EXACT = 0.0


def test_concat_matches_caffe():
    fwd, bwd = report("Concat", check_layer_type("layerzoo_a_struct", "Concat"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, axis", [("concat_dim: 2", 2), ("axis: -2", 2), ("", 1)])
def test_axis_legacy_concat_dim_and_negative_axis(spec, axis):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 1, 5))
    if axis == 1:
        b = rng.normal(size=(2, 1, 4, 5))
    layer = make_layer(f'name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" '
                       f'concat_param {{ {spec} }}', a.shape, b.shape)
    ta, tb = leaf(a), leaf(b)
    top = layer(ta, tb)
    want = np.concatenate([a, b], axis=axis)
    assert layer.top_shapes([a.shape, b.shape]) == [want.shape]
    assert np.abs(top.detach().numpy() - want).max() <= EXACT
    g = np.arange(want.size, dtype=np.float64).reshape(want.shape)
    top.backward(torch.from_numpy(g))
    ga, gb = np.split(g, [a.shape[axis]], axis=axis)
    assert np.abs(ta.grad.numpy() - ga).max() <= EXACT
    assert np.abs(tb.grad.numpy() - gb).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'cat'.*either axis or concat_dim"):
        make_layer('name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c" '
                   'concat_param { axis: 1 concat_dim: 1 }', (2, 3), (2, 3))
    with pytest.raises(NetError, match=r"layer 'cat'.*same shape except on axis 1"):
        make_layer('name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c"',
                   (2, 3, 4), (2, 3, 5))
    with pytest.raises(NetError, match=r"layer 'cat'.*concat_dim 4 out of range"):
        make_layer('name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c" '
                   'concat_param { concat_dim: 4 }', (2, 3, 4, 5), (2, 3, 4, 5))
