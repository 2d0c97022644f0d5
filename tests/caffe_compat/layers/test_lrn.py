"""LRN against Caffe 1.0 (layerzoo_a_struct: ACROSS_CHANNELS 3/0.5/0.75/k 2, WITHIN_CHANNEL
3/0.3/0.6) and Caffe's two formulas (WITHIN_CHANNEL ignores k and always divides by n^2), with
windows wider than the channels or the image too (against Caffe: test_wide_windows.py)."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import leaf, make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# float64 unit checks: a window sum and one power per value.
F64_TOL = 1e-12
# gradcheck's finite differences in float64 (its documented defaults, stated here).
GRADCHECK_ATOL, GRADCHECK_RTOL = 1e-6, 1e-4


def test_lrn_matches_caffe():
    fwd, bwd = report("LRN", check_layer_type("layerzoo_a_struct", "LRN"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def f32(v):
    return float(np.float32(v))


def across_reference(x, n, alpha, beta, k):
    pre = (n - 1) // 2
    padded = np.pad(x * x, ((0, 0), (pre, pre), (0, 0), (0, 0)))
    window = sum(padded[:, i:i + x.shape[1]] for i in range(n))
    return x * (k + alpha / n * window) ** -beta


def within_reference(x, n, alpha, beta):
    pre = (n - 1) // 2
    padded = np.pad(x * x, ((0, 0), (0, 0), (pre, pre), (pre, pre)))
    h, w = x.shape[2:]
    window = sum(padded[:, :, i:i + h, j:j + w] for i in range(n) for j in range(n))
    return x * (1 + alpha * window / (n * n)) ** -beta


def lrn(spec, shape):
    return make_layer(f'name: "n" type: "LRN" bottom: "x" top: "y" lrn_param {{ {spec} }}',
                      shape)


def test_across_channels_formula():
    x = np.random.default_rng(10).normal(size=(2, 6, 3, 4))
    top = lrn("local_size: 5 alpha: 0.7 beta: 0.6 k: 1.5", x.shape)(leaf(x)).detach().numpy()
    want = across_reference(x, 5, f32(0.7), f32(0.6), f32(1.5))
    assert np.abs(top - want).max() <= F64_TOL


def test_within_channel_ignores_k_and_divides_by_n_squared():
    x = np.random.default_rng(11).normal(size=(2, 2, 5, 4))
    spec = "local_size: 3 alpha: 0.8 beta: 0.6 norm_region: WITHIN_CHANNEL"
    top = lrn(spec, x.shape)(leaf(x)).detach().numpy()
    top_k = lrn(spec + " k: 7", x.shape)(leaf(x)).detach().numpy()
    assert np.abs(top - within_reference(x, 3, f32(0.8), f32(0.6))).max() <= F64_TOL
    assert np.array_equal(top, top_k)  # k has no effect at all


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_backward_is_the_true_gradient(region):
    x = leaf(np.random.default_rng(12).normal(size=(1, 4, 3, 3)))
    layer = lrn(f"local_size: 3 alpha: 0.9 beta: 0.75 k: 2 norm_region: {region}", x.shape)
    assert torch.autograd.gradcheck(layer, (x,), atol=GRADCHECK_ATOL, rtol=GRADCHECK_RTOL)


@pytest.mark.parametrize("n, channels", [(5, 3), (7, 2), (9, 1)])
def test_across_channels_window_wider_than_the_channels(n, channels):
    # Caffe's zero-padded squares: the window may hold more zeros than channels
    x = np.random.default_rng(13).normal(size=(2, channels, 3, 2))
    layer = lrn(f"local_size: {n} alpha: 0.9 beta: 0.75 k: 2", x.shape)
    top = layer(leaf(x)).detach().numpy()
    assert np.abs(top - across_reference(x, n, f32(0.9), f32(0.75), f32(2))).max() <= F64_TOL
    assert torch.autograd.gradcheck(layer, (leaf(x),), atol=GRADCHECK_ATOL, rtol=GRADCHECK_RTOL)


def test_within_channel_window_wider_than_the_image():
    x = np.random.default_rng(14).normal(size=(1, 2, 2, 3))
    layer = lrn("local_size: 7 alpha: 0.8 beta: 0.6 norm_region: WITHIN_CHANNEL", x.shape)
    top = layer(leaf(x)).detach().numpy()
    assert np.abs(top - within_reference(x, 7, f32(0.8), f32(0.6))).max() <= F64_TOL
    assert torch.autograd.gradcheck(layer, (leaf(x),), atol=GRADCHECK_ATOL, rtol=GRADCHECK_RTOL)


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'n'.*local_size must be odd, got 4"):
        lrn("local_size: 4", (1, 3, 4, 4))
    with pytest.raises(NetError, match=r"layer 'n'.*must have 4 axes"):
        lrn("local_size: 3", (3, 4, 4))
