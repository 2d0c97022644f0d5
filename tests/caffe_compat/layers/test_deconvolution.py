"""Deconvolution against Caffe 1.0 (layerzoo_a_conv: k4 s2 p1, and k3 without bias) and against
a direct NumPy scatter (each input value spreads ``w`` over its output window)."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64: each output is a sum of at most a few dozen products.
F64_TOL = 1e-12


def test_deconvolution_matches_caffe():
    fwd, bwd = report("Deconvolution", check_layer_type("layerzoo_a_conv", "Deconvolution"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def direct_deconv(x, w, b, stride, pad, group):
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape  # (C, num_output / group, kh, kw), as Caffe stores it
    full = np.zeros((n, og * group, stride * (h - 1) + kh, stride * (wd - 1) + kw))
    cg = c // group
    for ch in range(c):
        g = ch // cg
        for i in range(h):
            for j in range(wd):
                full[:, g * og:(g + 1) * og, i * stride:i * stride + kh,
                     j * stride:j * stride + kw] += x[:, ch, i, j][:, None, None, None] * w[ch]
    out = full[:, :, pad:full.shape[2] - pad, pad:full.shape[3] - pad]
    return out + b[None, :, None, None]


def test_against_a_direct_scatter():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(2, 4, 3, 5))
    layer = make_layer('name: "d" type: "Deconvolution" bottom: "x" top: "y" '
                       'convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 '
                       'group: 2 }', x.shape).double()
    assert tuple(layer.weight.shape) == (4, 3, 4, 4)
    w, b = rng.normal(size=(4, 3, 4, 4)), rng.normal(size=6)
    layer.weight.data.copy_(torch.from_numpy(w))
    layer.bias.data.copy_(torch.from_numpy(b))
    want = direct_deconv(x, w, b, 2, 1, 2)
    # s (in - 1) + k - 2 p: 2 * 2 + 4 - 2 = 6 and 2 * 4 + 4 - 2 = 10
    assert layer.top_shapes([x.shape]) == [(2, 6, 6, 10)] == [want.shape]
    assert np.abs(layer(leaf(x)).detach().numpy() - want).max() <= F64_TOL


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'dc'.*num_output \(3\) must be multiples of "
                                       r"group \(2\)"):
        make_layer('name: "dc" type: "Deconvolution" bottom: "x" top: "y" '
                   'convolution_param { num_output: 3 kernel_size: 2 group: 2 }', (1, 4, 5, 5))
