"""Tile against Caffe 1.0 (layerzoo_a_struct: axis 1 x2, axis 3 x3) and its copy order."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Tile copies values and sums gradients of small integers: exact in float64.
EXACT = 0.0


def test_tile_matches_caffe():
    fwd, bwd = report("Tile", check_layer_type("layerzoo_a_struct", "Tile"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_whole_blocks_repeat_and_gradients_sum():
    x = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)
    layer = make_layer('name: "t" type: "Tile" bottom: "x" top: "y" '
                       'tile_param { axis: 1 tiles: 3 }', x.shape)
    assert layer.top_shapes([x.shape]) == [(2, 9, 2)]
    t = leaf(x)
    top = layer(t)
    # Channels come as c0 c1 c2 c0 c1 c2 c0 c1 c2 (whole copies), not c0 c0 c0 c1 ...
    want = np.concatenate([x, x, x], axis=1)
    assert np.abs(top.detach().numpy() - want).max() <= EXACT
    g = np.arange(top.numel(), dtype=np.float64).reshape(top.shape)
    top.backward(torch.from_numpy(g))
    assert np.abs(t.grad.numpy() - (g[:, 0:3] + g[:, 3:6] + g[:, 6:9])).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'ti'.*tiles must be positive, got 0"):
        make_layer('name: "ti" type: "Tile" bottom: "x" top: "y" tile_param { axis: 1 }', (2, 3))
    with pytest.raises(NetError, match=r"layer 'ti'.*axis 2 out of range"):
        make_layer('name: "ti" type: "Tile" bottom: "x" top: "y" '
                   'tile_param { axis: 2 tiles: 2 }', (2, 3))
