"""SPP against Caffe 1.0 (layerzoo_a_struct: MAX, pyramid_height 2) and Caffe's per-level
geometry: kernel = stride = ceil(size / 2^l), pad = (kernel * 2^l - size + 1) // 2."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from caffe_compat.rules.spp import level_geometry
from tests.caffe_compat.layers.helpers_struct import (caffe_pool_reference, leaf, make_layer,
                                                      report)
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# MAX copies values; AVE sums at most a few dozen float64 values.
F64_TOL = 1e-12


def test_spp_matches_caffe():
    fwd, bwd = report("SPP", check_layer_type("layerzoo_a_struct", "SPP"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_level_geometry():
    assert level_geometry(0, 7) == (7, 7, 0)
    assert level_geometry(1, 7) == (4, 4, 1)   # 4 * 2 - 7 = 1 -> pad (1 + 1) // 2 = 1
    assert level_geometry(2, 7) == (2, 2, 1)
    assert level_geometry(2, 6) == (2, 2, 1)   # 2 * 4 - 6 = 2 -> pad 1
    assert level_geometry(1, 6) == (3, 3, 0)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("hw", [(6, 7), (7, 11), (8, 8)])
def test_levels_are_caffe_poolings_flattened_and_concatenated(pool, hw):
    x = np.random.default_rng(15).normal(size=(2, 3) + hw)
    layer = make_layer(f'name: "s" type: "SPP" bottom: "x" top: "y" '
                       f'spp_param {{ pyramid_height: 3 pool: {pool} }}', x.shape)
    parts = []
    for level in range(3):
        (kh, sh, ph), (kw, sw, pw) = level_geometry(level, hw[0]), level_geometry(level, hw[1])
        top, _ = caffe_pool_reference(x, (kh, kw), (sh, sw), (ph, pw), pool)
        assert top.shape[2:] == (2 ** level, 2 ** level)
        parts.append(top.reshape(2, -1))
    want = np.concatenate(parts, axis=1)
    assert layer.top_shapes([x.shape]) == [want.shape]
    assert np.abs(layer(leaf(x)).detach().numpy() - want).max() <= F64_TOL


def test_height_one_is_the_unflattened_pooling():
    x = np.random.default_rng(16).normal(size=(2, 3, 5, 4))
    layer = make_layer('name: "s" type: "SPP" bottom: "x" top: "y" '
                       'spp_param { pyramid_height: 1 }', x.shape)
    assert layer.top_shapes([x.shape]) == [(2, 3, 1, 1)]
    top = layer(torch.from_numpy(x))
    assert np.abs(top.numpy() - x.max(axis=(2, 3), keepdims=True)).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'sp'.*pyramid_height must be at least 1"):
        make_layer('name: "sp" type: "SPP" bottom: "x" top: "y"', (1, 1, 4, 4))
    # 2x2 input, level 2: kernel 1, pad 1 -> Caffe's Pooling refuses pad >= kernel.
    with pytest.raises(NetError, match=r"layer 'sp'.*pyramid level 2.*not valid for a 2x2"):
        make_layer('name: "sp" type: "SPP" bottom: "x" top: "y" '
                   'spp_param { pyramid_height: 3 }', (1, 1, 2, 2))
