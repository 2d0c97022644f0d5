"""Caffe's convolution and InnerProduct products on float32 numpy arrays, without torch.

The same compiled kernel as :mod:`caffe_compat.kernels.blas_order` (``_exact_gemm.c``: im2col
and OpenBLAS's sgemm summation order), called on arrays the caller owns, so that a net run on
numpy arrays (:mod:`caffe_compat.array_net`) gives Caffe's bits without importing torch. Which
of OpenBLAS's products Caffe's InnerProduct reaches (:func:`inner_product_kind`) and where its
small-matrix kernels take over are decided here, for both."""
from __future__ import annotations

import numpy as np

try:
    from . import _exact_gemm
except ImportError:  # pragma: no cover - the extension is optional
    _exact_gemm = None

# The OpenBLAS kernels whose summation order these products follow.
KERNEL_FAMILY = "avx512-skylakex"
# OpenBLAS's small-matrix kernels take over at M * N * K <= 100**3 ...
SMALL_MNK = 100 ** 3
# ... the transposed-A one only for C of at most 1200 values and K of at least 32.
SMALL_TN_MAX_MN = 1200
SMALL_TN_MIN_K = 32


def available():
    """Whether the compiled kernel is there."""
    return _exact_gemm is not None


def inner_product_kind(m, n, k, transpose):
    """Which of the kernel's products Caffe's InnerProduct reaches for these sizes: ``0``
    the general driver's K blocks, ``1`` the small-matrix sequential sums, ``2`` the small
    "TN" kernel (``gemm_tn_small``); :func:`caffe_compat.kernels.blas_order.inner_product_call`
    and the array engine's compiled loop (:mod:`caffe_compat.array_solver.loop`) take the same
    one."""
    small = m * n * k <= SMALL_MNK
    if transpose:
        return 1 if small else 0
    return 2 if small and m * n <= SMALL_TN_MAX_MN and k >= SMALL_TN_MIN_K else 0


def conv2d_into(x, w, y, stride, pad, dilation, group, threads):
    """``y`` (N, O, OH, OW) = Caffe's im2col + sgemm convolution of ``x`` (N, C, H, W) with
    ``w`` (O, C/g, kh, kw), without bias; C-contiguous float32 arrays."""
    o, cg, kh, kw = w.shape
    per_image = (o // group) * y.shape[2] * y.shape[3] * cg * kh * kw
    _exact_gemm.conv2d(x, w, y, stride[0], stride[1], pad[0], pad[1], dilation[0],
                       dilation[1], group, per_image > SMALL_MNK, threads)


def inner_product_kernel(m, n, k, transpose):
    """The exact product Caffe's InnerProduct reaches for these sizes (K > 0), as
    ``call(x, w, y, threads)`` on float32 arrays: chosen once where the sizes are known ahead."""
    kind = inner_product_kind(m, n, k, transpose)
    if transpose:
        return lambda x, w, y, threads: _exact_gemm.gemm(x, w, y, kind == 0, threads)
    if kind == 2:
        return lambda x, w, y, threads: _exact_gemm.gemm_tn_small(w, x, y)
    return lambda x, w, y, threads: _exact_gemm.gemm(x, w.T, y, True, threads)


def small_gemm(a, b, c):
    """``c`` = ``a`` ``b`` (float32 2-D arrays, any strides; ``c`` contiguous along its rows)
    summed as OpenBLAS's small-matrix kernels sum it: each output in one sequence, one thread
    (the product the compiled training loop's small backward products call)."""
    _exact_gemm.gemm(a, b, c, False, 1)


def inner_product_into(x, w, y, transpose, threads):
    """``y`` (M, N) = Caffe's InnerProduct product of ``x`` (M, K): ``x W^T`` for weights
    (N, K), or ``x W`` for weights (K, N) with ``transpose``; float32 arrays, without bias."""
    m, k = x.shape
    if k == 0:
        y[...] = 0
        return
    inner_product_kernel(m, y.shape[1], k, transpose)(x, w, y, threads)


def conv2d_grads_into(x, w, dy, dx, dw, stride, pad, dilation, group, threads):
    """The gradients of :func:`conv2d_into` for top diff ``dy`` into ``dx`` (input) and
    ``dw`` (weights), either None where not wanted, in Caffe's order: ``dx`` as
    ``backward_cpu_gemm`` and ``col2im_cpu`` sum it, ``dw`` as ``weight_cpu_gemm`` accumulates
    it, image after image. Both are assigned, not added to."""
    _exact_gemm.conv2d_grads(x, w, np.ascontiguousarray(dy), dx, dw, stride[0], stride[1],
                             pad[0], pad[1], dilation[0], dilation[1], group, threads)
