"""Convolution and InnerProduct forward products in Caffe's own float32 summation order.

Caffe 1.0 computes both layers on the CPU with ``cblas_sgemm`` (after ``im2col`` for the
convolutions) on OpenBLAS, whose AVX-512 (SkylakeX) kernels fix the order of every output's
additions (``_exact_gemm.c``; ``caffe_products.KERNEL_FAMILY``):

- the general driver cuts K into blocks of 320 (the rest as two halves once fewer than 640
  remain), each summed from zero by sequential fused multiply-adds, then added in turn;
- ``M * N * K <= 1e6`` (the small-matrix kernels): a non-transposed product (Convolution;
  InnerProduct with ``transpose: true``) sums all of K sequentially; InnerProduct's transposed
  one (``top = bottom W^T``), when also ``num_output * batch <= 1200`` and ``K >= 32``,
  accumulates sixteen interleaved partial sums added by a fixed tree.

The forward outputs are then bit-identical to Caffe's on AVX-512 (a Caffe build on AVX2
OpenBLAS kernels differs in the last bit of some outputs). This matters for training: a ReLU
input within a rounding error of zero, or near-equal values in a max-pooling window, take the
other branch when the sum rounds differently. Backward needs no such care: a convolution's
gradients go through the DFT where cheaper (``dft_conv``), else :func:`conv2d_grads`, Caffe's
two gemms in the same order (per image ``W^T dY`` then col2im; ``dY col^T`` accumulated
image after image), whose work units threads take in turn
(:func:`caffe_compat.parallel.threads.kernel_threads`).

Training (autograd on) always uses these products; inference (``torch.no_grad()``) only when
``INFERENCE`` is True (``CAFFE_COMPAT_CAFFE_ORDER_INFERENCE=1``, ``run_eval --caffe-order``),
else torch's faster kernels (within ~1e-6 of Caffe's). With ``EXACT_TRAINING`` False
(``CAFFE_COMPAT_FAST_TRAINING=1``, :func:`fast_training`) training's forward leaves Caffe's
order: convolutions of more than one input channel per group run in oneDNN's channels-last
layout and inner products through torch's GEMM (one-channel first layers keep this kernel);
backward is unchanged; outputs differ by float32 rounding (~1e-6 relative) and trainings
drift as any two float32 orders do (``benchmarks/bench_train.py --fast``,
``tests/caffe_compat/kernels/test_fast_training.py``).

``available()`` is False when the C extension was not built; the layers then use torch's
convolution and matrix products (same values to ~1e-6, other rounding)."""
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
    where the compiled micro-kernel is the AVX2 one (on AVX-512 ones oneDNN's gradient
    kernels are faster: docs/threads.md, "Figures behind the constants"). The choice changes
    the bits, so a pinned instruction set (``ONEDNN_MAX_CPU_ISA``,
    :func:`caffe_compat.kernels.numerics.pin_kernels`) decides as that processor would."""
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


available = caffe_products.available     # whether the compiled kernel is there


def usable(*tensors):
    """True when the exact products apply to these tensors now: CPU float32, extension built,
    and training (or ``INFERENCE``)."""
    return (INFERENCE or torch.is_grad_enabled()) and usable_in_training(*tensors)


def gradients_usable(x, weight, grad, group):
    """Whether a convolution's direct gradients go through :func:`conv2d_grads` (CPU
    float32, extension built, ``GRADIENTS``: by default on AVX2 processors): for layers whose
    work per image and gradient (``O/g * C/g*kh*kw * OH*OW`` multiply-adds) is at least
    :data:`GRADIENT_MIN_WORK` (smaller layers pay im2col and col2im more per multiply-add and
    keep torch's kernels; figures: docs/threads.md, "Figures behind the constants")."""
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
