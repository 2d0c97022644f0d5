"""Slice against Caffe 1.0 (layerzoo_a_struct: two points on axis 1, one on axis 3) and its
rules (equal split without points, legacy slice_dim)."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Slice only copies values: ours must be bit-identical.
EXACT = 0.0


def test_slice_matches_caffe():
    fwd, bwd = report("Slice", check_layer_type("layerzoo_a_struct", "Slice"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_without_points_splits_equally_and_slice_dim_is_the_axis():
    x = np.arange(2 * 6 * 3, dtype=np.float64).reshape(2, 6, 3)
    layer = make_layer('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" '
                       'slice_param { slice_dim: 1 }', x.shape)
    assert layer.top_shapes([x.shape]) == [(2, 2, 3)] * 3
    t = leaf(x)
    tops = layer(t)
    for top, want in zip(tops, np.split(x, 3, axis=1)):
        assert np.abs(top.detach().numpy() - want).max() <= EXACT
    # Only the middle top gets a gradient: the others' part of the bottom diff stays 0.
    tops[1].backward(torch.ones(2, 2, 3, dtype=torch.float64))
    want = np.zeros_like(x)
    want[:, 2:4] = 1
    assert np.abs(t.grad.numpy() - want).max() <= EXACT


def test_points_and_negative_axis():
    x = np.arange(2 * 3 * 7, dtype=np.float64).reshape(2, 3, 7)
    layer = make_layer('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" '
                       'slice_param { axis: -1 slice_point: 2 slice_point: 3 }', x.shape)
    assert layer.top_shapes([x.shape]) == [(2, 3, 2), (2, 3, 1), (2, 3, 4)]
    for top, want in zip(layer(leaf(x)), np.split(x, [2, 3], axis=2)):
        assert np.abs(top.detach().numpy() - want).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'sl'.*evenly divide.*\(7\)"):
        make_layer('name: "sl" type: "Slice" bottom: "x" top: "a" top: "b"', (2, 7))
    with pytest.raises(NetError, match=r"layer 'sl'.*1 slice_point\(s\) given for 3 tops"):
        make_layer('name: "sl" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" '
                   'slice_param { slice_point: 1 }', (2, 7))
    with pytest.raises(NetError, match=r"layer 'sl'.*positive and increasing"):
        make_layer('name: "sl" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" '
                   'slice_param { slice_point: 3 slice_point: 2 }', (2, 7))
    with pytest.raises(NetError, match=r"layer 'sl'.*either axis or slice_dim"):
        make_layer('name: "sl" type: "Slice" bottom: "x" top: "a" top: "b" '
                   'slice_param { axis: 1 slice_dim: 1 }', (2, 8))
