"""Normalize against OpenCV 4 dnn (committed fixture: across_spatial on and off, per-channel and
shared scales, eps, the NormalizeBBox name, a 2-D input) and against SSD's rule where OpenCV
refuses the setting."""
import numpy as np
import pytest
import torch

from tests.caffe_compat.layers.helpers_struct import leaf, make_layer
from tests.caffe_compat.opencv_fixtures import cases, compare

# float32 sums of squares in another order than OpenCV's: ~1e-7 of the output's scale.
TOL = compare.DENSE_TOL
# float64 against a float64 NumPy transcription: the sum of 60 squares in another order.
F64_TOL = 1e-11


def test_normalize_matches_opencv():
    worst = compare.report("Normalize vs OpenCV 4", compare.check_case(
        "Normalize", cases.normalize_case()))
    assert worst <= TOL


def test_per_channel_scale_across_spatial_follows_ssd():
    # OpenCV's dnn refuses this combination; SSD's Caffe scales channel by channel.
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    layer = make_layer('name: "n" type: "Normalize" bottom: "x" top: "y" '
                       'norm_param { channel_shared: false eps: 0.01 }', x.shape).double()
    scale = np.array([0.5, 2.0, 3.0])
    layer.scale.data.copy_(torch.from_numpy(scale))
    y = layer(leaf(x)).detach().numpy()
    norm = np.sqrt((x ** 2).reshape(2, -1).sum(1) + 0.01)[:, None, None, None]
    assert np.abs(y - x / norm * scale[None, :, None, None]).max() <= F64_TOL


def test_gradient_by_autograd():
    layer = make_layer('name: "n" type: "Normalize" bottom: "x" top: "y" '
                       'norm_param { across_spatial: false }', (2, 3, 2, 2)).double()
    x = leaf(np.random.default_rng(1).normal(size=(2, 3, 2, 2)))
    assert torch.autograd.gradcheck(layer, (x,))


def test_bad_input_names_the_layer():
    from caffe_compat import NetError
    with pytest.raises(NetError, match="layer 'n'.*at least 2 axes"):
        make_layer('name: "n" type: "Normalize" bottom: "x" top: "y"', (5,))
