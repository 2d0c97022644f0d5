"""Convolution and InnerProduct forward products in Caffe's own float32 summation order.

Caffe 1.0 computes both layers on the CPU with ``cblas_sgemm`` (after ``im2col`` for the
convolutions), and its reference build links OpenBLAS, whose kernels fix the order in which
every output's products are added (see ``_exact_gemm.c``):

- the general driver cuts K into blocks of 320 (the rest as two halves once fewer than 640
  remain), each block summed from zero by sequential fused multiply-adds, the blocks then
  added one after the other;
- ``M * N * K <= 1e6`` (OpenBLAS's small-matrix kernels): a non-transposed product
  (Convolution; InnerProduct with ``transpose: true``) sums the whole of K sequentially; the
  transposed one of InnerProduct (``top = bottom W^T``), when also ``num_output * batch <=
  1200`` and ``K >= 32``, accumulates sixteen interleaved partial sums and adds them by a fixed
  tree.

Following the same rules gives forward outputs bit-identical to Caffe's (the parity tests run
them against Caffe's blobs). These are the rules of OpenBLAS's AVX-512 (SkylakeX) sgemm kernels,
the ones OpenBLAS picks on AVX-512 processors (``caffe_products.KERNEL_FAMILY``); on other
processors OpenBLAS runs other kernels (AVX2 ones: its Haswell kernels, with another order
inside a block), and a Caffe build there differs from these products in the last bit of some outputs. This matters for training: a ReLU whose input is within a
rounding error of zero, or a max-pooling window with near-equal values, takes the other branch
when the sum is rounded differently, and such flips were the largest differences between our
training runs and Caffe's. Backward passes need no such care (no branch depends on them): a
convolution's gradients go through the DFT where that is cheaper (``dft_conv``), otherwise
through :func:`conv2d_grads`, Caffe's own two gemms in
the same summation order (per image ``W^T dY`` then col2im; ``dY col^T`` accumulated image
after image), whose work units threads take in turn: a thread whose core another process
holds takes fewer, so these kernels, unlike torch's fixed shares, gain from a core held in part
(:func:`caffe_compat.parallel.threads.kernel_threads`).

Training (autograd on) always uses these products. Inference (``torch.no_grad()``) uses them
when ``INFERENCE`` is True (environment variable ``CAFFE_COMPAT_CAFFE_ORDER_INFERENCE=1``, or
``run_eval --caffe-order``) for predictions bit-identical to Caffe's; by default it keeps
torch's faster inference kernels (predictions within ~1e-6 of Caffe's).

Training may leave Caffe's order for the forward products when ``EXACT_TRAINING`` is False
(environment variable ``CAFFE_COMPAT_FAST_TRAINING=1``, or :func:`fast_training`): the fast
training mode. Convolutions with more than one input channel per group then run forward in
oneDNN's channels-last layout and inner products through torch's GEMM (the one-channel first
layers keep this module's kernel, which is the faster one there); backward passes are the same
as in the exact mode. Outputs then differ from Caffe's by float32 rounding (about 1e-6
relative), and trainings drift apart as any two float32 trainings in different orders do:
``benchmarks/bench_train.py --fast`` and ``tests/caffe_compat/kernels/test_fast_training.py``
measure the drift.

``available()`` is False when the C extension was not built; the layers then use torch's
convolution and matrix products (same values to ~1e-6, other rounding).
"""
from __future__ import annotations

import contextlib
import os

import torch

try:
    from . import _exact_gemm
except ImportError:  # pragma: no cover - the extension is optional
    _exact_gemm = None

from . import caffe_products

# Layers use these products for float32 CPU tensors when True (and the extension is built):
# always while training, and for inference too when INFERENCE is True.
ENABLED = True
INFERENCE = os.environ.get("CAFFE_COMPAT_CAFFE_ORDER_INFERENCE", "0") == "1"
# Training sums in Caffe's order unless the fast training mode is on (see the module note).
EXACT_TRAINING = os.environ.get("CAFFE_COMPAT_FAST_TRAINING", "0") != "1"


def _gradients_default():
    """Whether large convolutions take :func:`conv2d_grads` for their gradients:
    ``CAFFE_COMPAT_CONV_GRADIENTS=caffe`` always, ``=torch`` never; unset, on AVX2 processors,
    where the compiled micro-kernel is the AVX2 one. There they run at oneDNN's speed on one
    thread and gain from a held core; on AVX-512 processors oneDNN's 512-bit gradient kernels
    take 0.7x their time at one thread, and the CNN+D's iteration at batch 8 was faster with
    oneDNN's both idle (0.80x) and with a core held (0.94x). The choice changes the bits, so a
    pinned instruction set (``ONEDNN_MAX_CPU_ISA``, set by
    :func:`caffe_compat.kernels.numerics.pin_kernels`) decides as that processor would: AVX2
    pinned on an AVX-512 machine takes ours, as an AVX2 machine does."""
    choice = os.environ.get("CAFFE_COMPAT_CONV_GRADIENTS", "")
    if choice in ("caffe", "torch"):
        return choice == "caffe"
    if _exact_gemm is None:
        return False
    kernel = _exact_gemm.vector_kernel()
    pinned = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if pinned and kernel in ("avx2-fma", "avx512-fma"):
        return pinned.startswith("AVX2")
    return kernel == "avx2-fma"


# A convolution's direct gradients by conv2d_grads (the compiled kernel) when True; by
# torch's kernels when False; None: _gradients_default decides at the first gradient (after
# a pin_kernels call the program made at its start; see gradients_chosen).
GRADIENTS = None


def gradients_chosen():
    """:data:`GRADIENTS`, decided by :func:`_gradients_default` when first asked and kept:
    whether large convolutions' gradients are :func:`conv2d_grads`'s."""
    global GRADIENTS
    if GRADIENTS is None:
        GRADIENTS = _gradients_default()
    return GRADIENTS
# ... for layers of at least this many multiply-adds per image and gradient (gradients_usable)
GRADIENT_MIN_WORK = 1 << 27


def available():
    """Whether the compiled kernel is there."""
    return _exact_gemm is not None


def usable(*tensors):
    """True when the exact products apply to these tensors now: CPU float32, extension built,
    and training (or ``INFERENCE``)."""
    return (ENABLED and _exact_gemm is not None and not torch.jit.is_tracing()
            and (INFERENCE or (torch.is_grad_enabled() and EXACT_TRAINING))
            and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors))


def gradients_usable(x, weight, grad, group):
    """Whether a convolution's direct gradients go through :func:`conv2d_grads` (CPU
    float32, extension built, ``GRADIENTS``: by default on AVX2 processors): for layers whose
    work per image and gradient (``O/g * C/g*kh*kw * OH*OW`` multiply-adds) is at least
    :data:`GRADIENT_MIN_WORK`. There they run at oneDNN's speed on one thread (CNN+D's conv2
    and conv3 at batch 8: 1.06x and 0.97x its time) and gain from a core another process
    holds (0.83x their one-thread time on four threads under a loop pinned at nice -5, where
    oneDNN's fixed shares gain nothing). Smaller layers pay im2col and col2im more per
    multiply-add (3x3 kernels on 64-256 channels: 1.1-1.3x oneDNN's time, 32 channels: up to
    1.8x), and keep torch's kernels."""
    if not (gradients_chosen() and _exact_gemm is not None and grad.dtype == torch.float32
            and grad.device.type == "cpu" and grad.dim() == 4):
        return False
    work = weight.shape[0] // group * weight[0].numel() * grad.shape[2] * grad.shape[3]
    return work >= GRADIENT_MIN_WORK


def usable_in_training(*tensors):
    """What :func:`usable` says for these tensors with autograd on: whether a training pass
    (autograd's or the explicit one of :mod:`caffe_compat.net.train_plan`) uses the exact
    products."""
    return (ENABLED and _exact_gemm is not None and not torch.jit.is_tracing()
            and (INFERENCE or EXACT_TRAINING)
            and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors))


def fast_training_active(*tensors):
    """True when the fast training mode applies to these tensors now (CPU float32, autograd
    on, ``EXACT_TRAINING`` off)."""
    return (not EXACT_TRAINING and torch.is_grad_enabled() and not torch.jit.is_tracing()
            and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors))


@contextlib.contextmanager
def fast_training(enabled=True):
    """Within the block, training uses the fast mode (``enabled=False``: Caffe's order)."""
    global EXACT_TRAINING
    saved, EXACT_TRAINING = EXACT_TRAINING, not enabled
    try:
        yield
    finally:
        EXACT_TRAINING = saved


def _threads(work):
    """Threads for a call of this module's kernels of ``work`` multiply-adds: their units are
    taken in turn, so a large call may use a core another process holds in part
    (:func:`caffe_compat.parallel.threads.kernel_threads`)."""
    from ..parallel.threads import kernel_threads
    return max(1, kernel_threads(work))


def conv2d(x, weight, stride, pad, dilation, group):
    """Caffe's im2col + sgemm convolution of ``x`` (N, C, H, W) with ``weight`` (O, C/g, kh,
    kw), without bias, as a new float32 tensor (N, O, OH, OW)
    (:func:`caffe_compat.kernels.caffe_products.conv2d_into`)."""
    x = x.detach().contiguous()
    w = weight.detach().contiguous()
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    y = torch.empty((n, o, oh, ow), dtype=torch.float32)
    caffe_products.conv2d_into(x.numpy(), w.numpy(), y.numpy(), stride, pad, dilation, group,
                               _threads(n * o * oh * ow * cg * kh * kw))
    return y


def conv2d_grads(x, weight, grad, stride, pad, dilation, group, need_input=True,
                 need_weight=True):
    """``(gx, gw)``: the gradients of :func:`conv2d`'s input ``x`` (N, C, H, W) and weights for
    the top gradient ``grad``, new float32 tensors (None where not needed), in one job:

    - ``gx`` summed as Caffe's ``backward_cpu_gemm`` and ``col2im_cpu`` do: ``W^T dY`` per
      image and group in OpenBLAS's K blocks, then each column added at its input position,
      taps in order;
    - ``gw`` as Caffe's ``weight_cpu_gemm`` accumulates it: image after image, each image's
      ``dY col^T`` in OpenBLAS's K blocks over the output pixels.

    The work units own their outputs and threads take them in turn: the same bits with any
    thread count, and a thread whose core another process holds takes fewer of them."""
    x = x.detach().contiguous()
    w = weight.detach().contiguous()
    g = grad.detach().contiguous()
    gx = torch.empty(x.shape, dtype=torch.float32) if need_input else None
    gw = torch.empty(w.shape, dtype=torch.float32) if need_weight else None
    if gx is None and gw is None:
        return None, None
    work = g.shape[1] * w[0].numel() * g.shape[2] * g.shape[3] * g.shape[0] * \
        (int(need_input) + int(need_weight))
    caffe_products.conv2d_grads_into(x.numpy(), w.numpy(), g.numpy(),
                                     None if gx is None else gx.numpy(),
                                     None if gw is None else gw.numpy(), stride, pad, dilation,
                                     group, _threads(work))
    return gx, gw


def inner_product(x, weight, transpose):
    """Caffe's InnerProduct product of ``x`` (M, K): ``x W^T`` for weights (N, K), or ``x W``
    for weights (K, N) with ``transpose``; a new float32 tensor (M, N), without bias."""
    x = x.detach() if x.requires_grad else x
    w = weight.detach() if weight.requires_grad else weight
    m, k = x.shape
    n = w.shape[1] if transpose else w.shape[0]
    y = torch.empty((m, n), dtype=torch.float32)
    if k == 0:
        return y.zero_()
    inner_product_call(m, n, k, transpose)(x.numpy(), w.numpy(), y.numpy())
    return y


def inner_product_call(m, n, k, transpose):
    """The exact product :func:`inner_product` runs for these sizes (K > 0), as ``call(x,
    weight, out)`` on float32 arrays: chosen once where the sizes are known ahead (a training
    pass's layers), the thread count read at each call."""
    work = m * n * k
    product = caffe_products.inner_product_kernel(m, n, k, transpose)
    return lambda xa, wa, ya: product(xa, wa, ya, _threads(work))


def kernel_name():
    """The compiled micro-kernel in use ('avx512-fma', 'avx2-fma' or 'scalar-fmaf'), or None."""
    return None if _exact_gemm is None else _exact_gemm.vector_kernel()
