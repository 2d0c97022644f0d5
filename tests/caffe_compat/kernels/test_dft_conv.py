"""caffe_compat.kernels.dft_conv: convolution gradients through the DFT, against float64 direct sums.

The identity is exact, so in float64 the DFT route and the direct gradients agree to rounding
(1e-12); in float32 both carry rounding, and the DFT route's is compared with the direct
kernel's against a float64 reference.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from caffe_compat.kernels import dft_conv
from tests.caffe_compat.layers.helpers_struct import layer_grads
from tests.caffe_compat.reference import scaled_error

# float64: both routes sum exactly representable identities; differences are rounding of
# sums of a few thousand float64 terms.
F64_TOL = 1e-12
# float32, scaled by the gradient's largest magnitude: twiddles rounded once to float32 and
# length-L DFT sums; measured <= 1.0e-6 on these shapes (2.2e-6 on a 58x58 grid), while the
# direct oneDNN weight gradient of the same shapes is at 2e-6 .. 9e-6 (bench_conv_backward).
F32_TOL = 4e-6

# (batch, in channels, H, W, out channels, kh, kw, pad_h, pad_w): even and odd grid sizes,
# rectangular inputs and kernels, padding on one or both axes, a kernel as large as the input.
SHAPES = [(4, 16, 20, 23, 12, 5, 3, 0, 0), (3, 9, 17, 16, 10, 3, 5, 1, 2),
          (2, 8, 9, 9, 8, 9, 9, 4, 4), (5, 12, 21, 21, 16, 5, 5, 0, 0),
          (2, 10, 30, 11, 9, 7, 1, 3, 0), (2, 3, 6, 7, 2, 6, 7, 0, 0)]


def direct(x, w, g, pad):
    return torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], list(pad), [1, 1], False,
                                               [0, 0], 1, [True, True, False])[:2]


def scaled(a, ref):
    return scaled_error(a.numpy(), ref.numpy())


def data(shape, dtype, seed=0):
    n, i, h, w, o, kh, kw, ph, pw = shape
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, i, h, w, generator=gen, dtype=dtype)
    wt = torch.randn(o, i, kh, kw, generator=gen, dtype=dtype)
    g = torch.randn(n, o, h + 2 * ph - kh + 1, w + 2 * pw - kw + 1, generator=gen, dtype=dtype)
    return x, wt, g, (ph, pw)


@pytest.mark.parametrize("shape", SHAPES)
def test_float64_gradients_equal_direct_sums(shape):
    x, w, g, pad = data(shape, torch.float64)
    gx, gw = dft_conv.conv2d_backward(x, w, g, pad)
    rx, rw = direct(x, w, g, pad)
    assert gx.shape == x.shape and gw.shape == w.shape
    assert scaled(gx, rx) <= F64_TOL and scaled(gw, rw) <= F64_TOL


@pytest.mark.parametrize("shape", SHAPES)
def test_float32_gradients_within_rounding(shape):
    x, w, g, pad = data(shape, torch.float32, seed=1)
    gx, gw = dft_conv.conv2d_backward(x, w, g, pad)
    rx, rw = direct(x.double(), w.double(), g.double(), pad)
    assert gx.dtype == torch.float32 and gw.dtype == torch.float32
    assert scaled(gx, rx) <= F32_TOL and scaled(gw, rw) <= F32_TOL


def test_one_gradient_at_a_time():
    x, w, g, pad = data(SHAPES[1], torch.float64)
    both = dft_conv.conv2d_backward(x, w, g, pad)
    gx, none_w = dft_conv.conv2d_backward(x, w, g, pad, need_weight=False)
    none_x, gw = dft_conv.conv2d_backward(x, w, g, pad, need_input=False)
    assert none_w is None and none_x is None
    assert torch.equal(gx, both[0]) and torch.equal(gw, both[1])


def test_non_contiguous_gradient():
    x, w, g, pad = data(SHAPES[0], torch.float64)
    gt = g.transpose(2, 3).contiguous().transpose(2, 3)
    a = dft_conv.conv2d_backward(x, w, g, pad)
    b = dft_conv.conv2d_backward(x, w, gt, pad)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_route_taken_where_it_pays():
    conv2 = (torch.empty(128, 64, 46, 46), torch.empty(128, 64, 5, 5))
    conv3 = (torch.empty(128, 128, 21, 21), torch.empty(256, 128, 5, 5))
    first = (torch.empty(128, 1, 96, 96), torch.empty(64, 1, 5, 5))
    small3x3 = (torch.empty(16, 8, 12, 12), torch.empty(8, 8, 3, 3))
    geometry = ([1, 1], [0, 0], [1, 1], 1)
    assert dft_conv.eligible(*conv2, *geometry) and dft_conv.eligible(*conv3, *geometry)
    assert not dft_conv.eligible(*first, *geometry)
    assert not dft_conv.eligible(*small3x3, *geometry)
    # a batch of 8: the per-channel-pair spectra cost as much as the products save
    assert not dft_conv.eligible(conv2[0][:8], conv2[1], *geometry)
    # geometry it does not handle
    assert not dft_conv.eligible(*conv2, [2, 2], [0, 0], [1, 1], 1)
    assert not dft_conv.eligible(*conv2, [1, 1], [0, 0], [2, 2], 1)
    assert not dft_conv.eligible(*conv2, [1, 1], [0, 0], [1, 1], 2)
    assert not dft_conv.eligible(conv2[0].half(), conv2[1].half(), *geometry)
    assert not dft_conv.eligible(*conv2, *geometry, need_input=False, need_weight=False)


def test_switch_off(monkeypatch):
    monkeypatch.setattr(dft_conv, "ENABLED", False)
    assert not dft_conv.eligible(torch.empty(128, 64, 46, 46), torch.empty(128, 64, 5, 5),
                                 [1, 1], [0, 0], [1, 1], 1)


def test_environment_switch():
    code = "from caffe_compat.kernels import dft_conv; print(dft_conv.ENABLED)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "CAFFE_COMPAT_CONV_BACKWARD": "direct"},
                         check=True)
    assert out.stdout.strip() == "False"


def test_convolution_layer_backpropagates_through_the_dft(monkeypatch):
    """A Convolution layer in training (Caffe-order forward) takes the DFT route when it pays,
    and its gradients agree with the direct route's within float32 rounding."""
    from caffe_compat.kernels import blas_order
    if not blas_order.available():
        pytest.skip("the _exact_gemm extension is not built")
    text = ('name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
            'num_output: 64 kernel_size: 5 pad: 1 }')
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, 32, 24, 24)).astype(np.float32)
    w = rng.normal(size=(64, 32, 5, 5)).astype(np.float32)
    b = rng.normal(size=64).astype(np.float32)
    g = torch.from_numpy(rng.normal(size=(32, 64, 22, 22)).astype(np.float32))
    calls = []
    real = dft_conv.conv2d_backward

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dft_conv, "conv2d_backward", spy)
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(dft_conv, "ENABLED", enabled)
        results.append(layer_grads(text, x, (w, b), g)[1:])
        assert len(calls) == 1  # the DFT route once (enabled), not when switched off
    ref = direct(torch.from_numpy(x).double(), torch.from_numpy(w).double(), g.double(), (1, 1))
    (gx, gw, gb), (dx, dw, db) = results
    assert scaled(gx, ref[0]) <= F32_TOL and scaled(gw, ref[1]) <= F32_TOL
    assert scaled(dx, ref[0]) <= F32_TOL
    ref_b = g.double().sum((0, 2, 3))
    assert scaled(gb, ref_b) <= F32_TOL and scaled(db, ref_b) <= F32_TOL


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), cin=st.integers(1, 5), cout=st.integers(1, 5),
       h=st.integers(1, 13), w=st.integers(1, 13), kh=st.integers(1, 6), kw=st.integers(1, 6),
       ph=st.integers(0, 3), pw=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_any_geometry_equals_direct_sums(n, cin, cout, h, w, kh, kw, ph, pw, seed):
    """Any stride-1 geometry with a non-empty output, in float64 (the identity is exact)."""
    assume(h + 2 * ph >= kh and w + 2 * pw >= kw)
    x, wt, g, pad = data((n, cin, h, w, cout, kh, kw, ph, pw), torch.float64, seed)
    gx, gw = dft_conv.conv2d_backward(x, wt, g, pad)
    rx, rw = direct(x, wt, g, pad)
    for got, ref in ((gx, rx), (gw, rw)):
        assert got.shape == ref.shape
        assert (got - ref).abs().max().item() <= F64_TOL * max(ref.abs().max().item(), 1.0)
