"""caffe_compat.kernels.blas_order.conv2d_grads: a convolution's
gradients summed in the order of Caffe's BaseConvolutionLayer.

Three checks: (1) against a float64 reference (torch's convolution backward in double) at a
float32 tolerance, over shapes with padding, stride, dilation, groups, one input channel,
1x1 kernels and more than 320 output channels (two K blocks); (2) the same bits on 1 to 5
threads (units own their outputs); (3) the order itself, against the forward's exact ``gemm``
(checked against Caffe's blobs in test_exact_gemm.py): the weight gradient is
``dY col^T`` accumulated image after image in OpenBLAS's K blocks, which for an output of 640
pixels (two blocks of 320 per image) is one gemm over the images' pixels concatenated; the
input gradient is ``W^T dY`` per image, then col2im adding each tap in turn (NumPy, one
float32 addition per tap and position, as Caffe's col2im_cpu).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffe_compat.kernels import blas_order

pytestmark = pytest.mark.skipif(not blas_order.available(),
                                reason="the _exact_gemm extension is not built")

# x shape, w shape, stride, pad, dilation, group
CASES = [
    ((2, 3, 9, 11), (4, 3, 3, 2), (1, 1), (0, 0), (1, 1), 1),
    ((3, 4, 12, 10), (6, 2, 3, 3), (2, 1), (1, 2), (1, 1), 2),
    ((2, 5, 13, 13), (7, 5, 3, 3), (2, 3), (2, 1), (2, 1), 1),
    ((2, 1, 30, 30), (16, 1, 5, 5), (1, 1), (0, 0), (1, 1), 1),
    ((2, 6, 8, 8), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),
    ((2, 32, 14, 14), (48, 32, 5, 5), (1, 1), (0, 0), (1, 1), 1),
    ((2, 40, 5, 5), (20, 40, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((1, 8, 7, 7), (650, 8, 3, 3), (1, 1), (1, 1), (1, 1), 1),
]


def _grads(x, w, g, s, p, d, group, threads, need=(True, True)):
    """The compiled kernel with an explicit thread count."""
    from caffe_compat.kernels import _exact_gemm
    gx = torch.empty_like(x) if need[0] else None
    gw = torch.empty_like(w) if need[1] else None
    _exact_gemm.conv2d_grads(x.numpy(), w.numpy(), g.numpy(),
                             None if gx is None else gx.numpy(),
                             None if gw is None else gw.numpy(), s[0], s[1], p[0], p[1], d[0],
                             d[1], group, threads)
    return gx, gw


def _case(xs, ws, s, p, d, group, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x, w = torch.randn(xs, generator=gen), torch.randn(ws, generator=gen)
    y = F.conv2d(x, w, None, s, p, d, group)
    return x, w, torch.randn(y.shape, generator=gen)


@pytest.mark.parametrize("xs,ws,s,p,d,group", CASES)
def test_gradients_match_a_float64_reference(xs, ws, s, p, d, group):
    x, w, g = _case(xs, ws, s, p, d, group)
    rx, rw, _ = torch.ops.aten.convolution_backward(
        g.double(), x.double(), w.double(), None, list(s), list(p), list(d), False, [0, 0],
        group, [True, True, False])
    gx, gw = blas_order.conv2d_grads(x, w, g, s, p, d, group)
    # float32 sums of up to a few thousand products of unit normals: seen at most 4e-7 of
    # the largest magnitude; 2e-6 leaves room for other shapes, far below any wrong term
    assert float((gx.double() - rx).abs().max() / rx.abs().max()) < 2e-6
    assert float((gw.double() - rw).abs().max() / rw.abs().max()) < 2e-6


@pytest.mark.parametrize("xs,ws,s,p,d,group", CASES[:6])
def test_the_same_bits_with_any_thread_count(xs, ws, s, p, d, group):
    x, w, g = _case(xs, ws, s, p, d, group, seed=1)
    gx1, gw1 = _grads(x, w, g, s, p, d, group, 1)
    for n in (2, 3, 5):
        gx, gw = _grads(x, w, g, s, p, d, group, n)
        assert torch.equal(gx, gx1) and torch.equal(gw, gw1)      # tolerance 0: same bits
    # one gradient alone: the same bits as in the combined job
    assert torch.equal(_grads(x, w, g, s, p, d, group, 2, (True, False))[0], gx1)
    assert torch.equal(_grads(x, w, g, s, p, d, group, 3, (False, True))[1], gw1)


def test_weight_gradient_is_caffes_per_image_accumulation():
    """Output 20 x 32 = 640 pixels: per image two K blocks of 320, so the images' pixels
    concatenated (K = 640 N) are cut at the same places and gemm sums the same sequence."""
    x, w, g = _case((3, 4, 22, 36), (5, 4, 3, 5), (1, 1), (0, 0), (1, 1), 1, seed=2)
    n, kc = x.shape[0], w[0].numel()
    cols = F.unfold(x, (3, 5))                                     # (N, Kc, 640)
    a = g.reshape(n, 5, 640).permute(1, 0, 2).reshape(5, n * 640).contiguous()
    b = cols.permute(0, 2, 1).reshape(n * 640, kc).contiguous()
    want = torch.empty(5, kc)
    from caffe_compat.kernels import _exact_gemm
    _exact_gemm.gemm(a.numpy(), b.numpy(), want.numpy(), True, 1)
    got = blas_order.conv2d_grads(x, w, g, (1, 1), (0, 0), (1, 1), 1, need_input=False)[1]
    assert torch.equal(got.reshape(5, kc), want)                  # tolerance 0: same order


def _col2im_caffe(col, channels, h, w, kh, kw, s, p, d, oh, ow):
    """Caffe's col2im_cpu: zero the image, then each tap (kernel row, column) in turn adds its
    column values at their input positions (one float32 addition each)."""
    im = np.zeros((channels, h, w), np.float32)
    col = col.reshape(channels, kh, kw, oh, ow)
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                for oy in range(oh):
                    iy = oy * s[0] - p[0] + i * d[0]
                    if not 0 <= iy < h:
                        continue
                    for ox in range(ow):
                        ix = ox * s[1] - p[1] + j * d[1]
                        if 0 <= ix < w:
                            im[c, iy, ix] = np.float32(im[c, iy, ix] + col[c, i, j, oy, ox])
    return im


@pytest.mark.parametrize("s,p,d,k", [((1, 1), (0, 0), (1, 1), 3), ((2, 1), (1, 2), (1, 2), 3),
                                     ((3, 2), (2, 1), (1, 1), 3),
                                     ((1, 1), (0, 0), (1, 1), 1)])   # 1x1: written directly
def test_input_gradient_is_gemm_then_caffes_col2im(s, p, d, k):
    x, w, g = _case((2, 3, 9, 10), (4, 3, k, k), s, p, d, 1, seed=3)
    from caffe_compat.kernels import _exact_gemm
    oh, ow = g.shape[2:]
    got = blas_order.conv2d_grads(x, w, g, s, p, d, 1, need_weight=False)[0]
    wt = w.reshape(4, -1).t()                                      # W^T (Kc, O), strided
    for n in range(2):
        col = torch.empty(wt.shape[0], oh * ow)
        _exact_gemm.gemm(wt.numpy(), g[n].reshape(4, -1).numpy(), col.numpy(), True, 1)
        want = _col2im_caffe(col.numpy(), 3, 9, 10, k, k, s, p, d, oh, ow)
        assert np.array_equal(got[n].numpy(), want)                # tolerance 0: same order


def _layer_grads(x, w, g):
    from caffe_compat.layers.convolution import CaffeOrderConv2d
    x, w = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    CaffeOrderConv2d.apply(x, w, None, [1, 1], [1, 1], [1, 1], 1).backward(g)
    return x.grad, w.grad


def test_layer_backward_uses_them_for_large_work_per_image(monkeypatch):
    """A Convolution's autograd backward (training in Caffe's order) gives these gradients
    where the work per image and gradient reaches GRADIENT_MIN_WORK; below it, oneDNN's input
    gradient and the weight gradient of kernels.fixed_order (oneDNN's on two fixed halves of
    the batch: the whole batch's bits follow the thread count on AVX-512 processors)."""
    from caffe_compat.kernels.fixed_order import conv_weight_grad
    x, w, g = _case((2, 6, 12, 12), (8, 6, 3, 3), (1, 1), (1, 1), (1, 1), 1, seed=4)
    ours = blas_order.conv2d_grads(x, w, g, (1, 1), (1, 1), (1, 1), 1)
    torchs = (torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False,
                                                  [0, 0], 1, [True, False, False])[0],
              conv_weight_grad(g, x, w, [1, 1], [1, 1], [1, 1], 1))
    work = 8 * 6 * 9 * 12 * 12                       # O * C*kh*kw * OH*OW
    monkeypatch.setattr(blas_order, "GRADIENTS", True)
    monkeypatch.setattr(blas_order, "GRADIENT_MIN_WORK", work)
    assert all(torch.equal(a, b) for a, b in zip(_layer_grads(x, w, g), ours))
    monkeypatch.setattr(blas_order, "GRADIENT_MIN_WORK", work + 1)
    assert all(torch.equal(a, b) for a, b in zip(_layer_grads(x, w, g), torchs))


def test_cnnd_conv2_and_conv3_at_batch_8_take_them(monkeypatch):
    """The rule's measured case: the CNN+D's conv2 and conv3 (the DFT route is not taken at
    batch 8); its first layer and LeNet's keep torch's (and the one-channel GEMM)."""
    monkeypatch.setattr(blas_order, "GRADIENTS", True)
    for xs, ws, taken in (((8, 64, 46, 46), (128, 64, 5, 5), True),
                          ((8, 128, 21, 21), (256, 128, 5, 5), True),
                          ((64, 20, 12, 12), (50, 20, 5, 5), False)):
        x, w = torch.empty(xs), torch.empty(ws)
        g = torch.empty(xs[0], ws[0], xs[2] - 4, xs[3] - 4)
        assert blas_order.gradients_usable(x, w, g, 1) == taken


def test_bad_geometry_is_refused_with_a_message():
    from caffe_compat.kernels import _exact_gemm
    x, w, g = _case((1, 2, 6, 6), (3, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="wrong shape"):
        _exact_gemm.conv2d_grads(x.numpy(), w.numpy(), g[:, :2].contiguous().numpy(), None,
                                 torch.empty_like(w).numpy(), 1, 1, 0, 0, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="geometry"):
        _exact_gemm.conv2d_grads(x.numpy(), w.numpy(), g.numpy(), torch.empty_like(x).numpy(),
                                 None, 0, 1, 0, 0, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="shaped as x and w"):
        _exact_gemm.conv2d_grads(x.numpy(), w.numpy(), g.numpy(), torch.empty(1).numpy()
                                 .reshape(1, 1, 1, 1), None, 1, 1, 0, 0, 1, 1, 1, 1)


@pytest.mark.parametrize("setting,kernel,pinned,expected", [
    ("caffe", "avx512-fma", "", True), ("torch", "avx2-fma", "", False),
    ("", "avx2-fma", "", True), ("", "avx512-fma", "", False), ("", "scalar-fmaf", "", False),
    ("", "avx512-fma", "AVX2", True), ("", "avx512-fma", "AVX512_CORE", False),
    ("", "avx2-fma", "SSE41", False), ("torch", "avx512-fma", "AVX2", False)])
def test_gradients_default_follows_the_kernel(monkeypatch, setting, kernel, pinned, expected):
    """Unset, the gradients are ours where the compiled kernel is the AVX2 one (where they were
    measured to pay) and torch's on AVX-512 processors and without vector code; a pinned
    instruction set (pin_kernels' ONEDNN_MAX_CPU_ISA) decides as that processor would, so an
    AVX-512 machine pinned to AVX2 computes an AVX2 machine's bits;
    CAFFE_COMPAT_CONV_GRADIENTS=caffe or torch decides anywhere."""
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", pinned)
    class Fake:
        @staticmethod
        def vector_kernel():
            return kernel
    monkeypatch.setattr(blas_order, "_exact_gemm", Fake)
    monkeypatch.setenv("CAFFE_COMPAT_CONV_GRADIENTS", setting)
    assert blas_order._gradients_default() is expected


def test_the_choice_is_made_at_the_first_gradient(monkeypatch):
    """A program that pins its kernels after importing the project still gets the pinned
    choice: GRADIENTS is decided at the first gradient, not at import."""
    from caffe_compat.kernels import numerics
    monkeypatch.setattr(blas_order, "GRADIENTS", None)
    monkeypatch.delenv("CAFFE_COMPAT_CONV_GRADIENTS", raising=False)
    for name in numerics.KERNEL_VARIABLES:
        monkeypatch.setenv(name, numerics.PINS["avx2"][name])
    x, w = torch.empty(8, 64, 46, 46), torch.empty(128, 64, 5, 5)
    blas_order.gradients_usable(x, w, torch.empty(8, 128, 42, 42), 1)
    assert blas_order.GRADIENTS is (blas_order.kernel_name() in ("avx2-fma", "avx512-fma"))
