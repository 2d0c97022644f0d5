"""Crop against Caffe 1.0 (layerzoo_a_struct: axis 2, offsets 1 and 2; crop_uncropped.npz: axes
before ``axis`` that differ) and its offset rules."""
import os

import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# Crop only copies values: ours must be bit-identical.
EXACT = 0.0


def test_crop_matches_caffe():
    fwd, bwd = report("Crop", check_layer_type("layerzoo_a_struct", "Crop"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


@pytest.mark.parametrize("spec, window", [
    ("axis: 2 offset: 1 offset: 2", (slice(None), slice(None), slice(1, 4), slice(2, 6))),
    ("axis: 2 offset: 1", (slice(None), slice(None), slice(1, 4), slice(1, 5))),
    ("axis: -2", (slice(None), slice(None), slice(0, 3), slice(0, 4))),
    ("axis: 1 offset: 1", (slice(None), slice(1, 3), slice(1, 4), slice(1, 5))),
])
def test_offsets_window_and_gradient(spec, window):
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float64).reshape(2, 3, 5, 6)
    ref_shape = (2, 2, 3, 4)
    layer = make_layer(f'name: "c" type: "Crop" bottom: "x" bottom: "r" top: "y" '
                       f'crop_param {{ {spec} }}', x.shape, ref_shape)
    want = x[window]
    assert layer.top_shapes([x.shape, ref_shape]) == [want.shape]
    tx, tr = leaf(x), leaf(np.zeros(ref_shape))
    top = layer(tx, tr)
    assert np.abs(top.detach().numpy() - want).max() <= EXACT
    top.backward(torch.ones_like(top))
    expect = np.zeros_like(x)
    expect[window] = 1.0
    assert np.abs(tx.grad.numpy() - expect).max() <= EXACT
    assert tr.grad is None  # the reference bottom only gives the shape


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'cr'.*cannot crop axis 3.*offset 3"):
        make_layer('name: "cr" type: "Crop" bottom: "x" bottom: "r" top: "y" '
                   'crop_param { offset: 0 offset: 3 }', (1, 1, 5, 6), (1, 1, 3, 4))
    with pytest.raises(NetError, match=r"layer 'cr'.*3 offsets given"):
        make_layer('name: "cr" type: "Crop" bottom: "x" bottom: "r" top: "y" '
                   'crop_param { offset: 0 offset: 0 offset: 0 }', (1, 1, 5, 6), (1, 1, 3, 4))
    with pytest.raises(NetError, match=r"layer 'cr'.*cannot crop axis 2"):
        make_layer('name: "cr" type: "Crop" bottom: "x" bottom: "r" top: "y"',
                   (1, 1, 2, 6), (1, 1, 3, 4))


UNCROPPED = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                                 "crop_uncropped.npz"))


@pytest.mark.parametrize("case", ["one_channel_against_three", "batch_2_against_1"])
def test_uncropped_axes_keep_bottom_0_as_caffe(case):
    """Real Caffe 1.0 (fixtures/make_crop_uncropped.py) checks the bounds of the cropped axes
    only: the axes before ``axis`` keep bottom 0's sizes where bottom 1's differ."""
    from caffe_compat.io.prototxt import parse_net
    lp = [lp for lp in parse_net(str(UNCROPPED[case + "/net"])).layer if lp.type == "Crop"][0]
    x, ref = UNCROPPED[case + "/x"], tuple(int(d) for d in UNCROPPED[case + "/ref_shape"])
    layer = make_layer(str(lp), x.shape, ref)
    tx = leaf(x)
    top = layer(tx, leaf(np.zeros(ref)))
    assert np.abs(top.detach().numpy() - UNCROPPED[case + "/y"]).max() <= EXACT
    top.backward(torch.from_numpy(UNCROPPED[case + "/dy"]).to(top.dtype))
    assert np.abs(tx.grad.numpy() - UNCROPPED[case + "/dx"]).max() <= EXACT
