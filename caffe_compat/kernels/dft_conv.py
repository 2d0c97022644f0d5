"""Convolution gradients through the discrete Fourier transform, computed as matrix products.

Caffe back-propagates a convolution by two GEMMs over its im2col columns. Neither gradient
takes a branch (only the forward feeds ReLU and pooling decisions, summed in Caffe's order by
:mod:`caffe_compat.kernels.blas_order`), so backward may use a cheaper exact identity: on an
``Lh x Lw`` grid holding the whole linear correlation without wrap-around (the padded
input's size, for stride 1),

- weight gradient: ``gw[o, i] = IDFT(sum_n conj(DY[n, o]) * X[n, i])`` read at the
  ``k_h x k_w`` taps;
- input gradient: ``gx[n, i] = IDFT(sum_o DY[n, o] * W[o, i])`` read at the input's positions,

one complex matrix product per frequency (``8*Lh*(Lw/2+1)`` real multiply-adds per triple
instead of ``2*k_h*k_w*Ho*Wo``: 10x fewer for CNN+D's conv2, 8x for conv3). The transforms are
dense real matrix products (a half-spectrum DFT along the width, a complex one along the
height), laid out so each frequency's ``(N, C)`` block is contiguous for a batched GEMM.

Accuracy: float32 throughout, twiddle factors rounded once from float64; within 1e-6 of the
gradients' largest magnitude against float64 (oneDNN's direct weight gradient: 4e-6 to 9e-6
on CNN+D's layers): ``tests/caffe_compat/kernels/test_dft_conv.py``.
``CAFFE_COMPAT_CONV_BACKWARD=direct`` (or ``ENABLED = False``) keeps torch's direct kernels."""
from __future__ import annotations

import functools
import math
import os

import torch
import torch.nn.functional as F

ENABLED = os.environ.get("CAFFE_COMPAT_CONV_BACKWARD", "dft") != "direct"

# The DFT route is taken when the direct products are estimated to cost at least this many
# times the DFT route. The estimate counts multiply-adds: per (image, output, input channel)
# triple 2*k_h*k_w*Ho*Wo per gradient directly, 8*Lh*Fw per gradient through the DFT; plus, per
# channel image transformed, the two transform products, weighted 3x for running on thin
# matrices at about a third of GEMM speed; plus, per (output, input channel) pair and frequency,
# the memory traffic of the weight's spectrum (250) and of the weight gradient's (500), which
# dominates at small batches. Fitted on eleven layer shapes and batches 8 to 128 on a 2-core
# AVX2 CPU (measured speed-ups 0.55x to 4.2x: ``benchmarks/bench_conv_backward.py --sweep``
# and ``--batch B``); every shape it sends to the DFT ran faster there.
MIN_SAVING = 1.25
TRANSFORM_WEIGHT = 3.0
PAIR_WEIGHT_INPUT = 250.0
PAIR_WEIGHT_WEIGHT = 500.0


def _half(n):
    return n // 2 + 1


def estimated_saving(x_shape, weight_shape, pad, need_input=True, need_weight=True):
    """Direct multiply-adds over the DFT route's (see MIN_SAVING) for a stride-1 convolution."""
    n, in_c, h, w = x_shape
    out_c, _, kh, kw = weight_shape
    lh, lw = h + 2 * pad[0], w + 2 * pad[1]
    ho, wo, fw = lh - kh + 1, lw - kw + 1, _half(lw)
    grads = int(need_input) + int(need_weight)
    triples = float(n) * out_c * in_c
    direct = grads * triples * 2.0 * kh * kw * ho * wo
    images = n * out_c + n * in_c * grads
    per_image = 4.0 * fw * lw * lh + 8.0 * lh * lh * fw
    pairs = float(out_c) * in_c * lh * fw
    dft = (grads * triples * 8.0 * lh * fw + TRANSFORM_WEIGHT * images * per_image
           + pairs * (PAIR_WEIGHT_INPUT * need_input + PAIR_WEIGHT_WEIGHT * need_weight))
    return direct / dft


def eligible(x, weight, stride, pad, dilation, group, need_input=True, need_weight=True):
    """True when this 2-D float convolution's gradients are cheaper through the DFT."""
    if not ENABLED or group != 1 or x.dim() != 4 or x.dtype not in (torch.float32, torch.float64):
        return False
    if any(s != 1 for s in stride) or any(d != 1 for d in dilation):
        return False
    if not (need_input or need_weight):
        return False
    return estimated_saving(tuple(x.shape), tuple(weight.shape), pad, need_input,
                            need_weight) >= MIN_SAVING


def _hermitian_weights(lw):
    """Each half-spectrum column's multiplicity in the full spectrum (1 for DC and Nyquist)."""
    wgt = torch.full((_half(lw),), 2.0, dtype=torch.float64)
    wgt[0] = 1.0
    if lw % 2 == 0:
        wgt[-1] = 1.0
    return wgt


def _angles(rows, cols, period, row0=0, col0=0):
    """2*pi*r*c/period for r in row0.. (rows), c in col0.. (cols), float64."""
    r = torch.arange(row0, row0 + rows, dtype=torch.float64)[:, None]
    c = torch.arange(col0, col0 + cols, dtype=torch.float64)[None]
    return 2.0 * math.pi * r * c / period


@functools.lru_cache(maxsize=64)
def _forward_matrices(hin, win, lh, lw, dtype):
    """``Dw`` (2*Fw, win): rows (re|im, kw) of the real-to-half-spectrum DFT along the width.
    ``Dh`` (2*lh, 2*hin): rows (re|im, kh), columns (h, re|im) of the complex DFT along the
    height, so that ``Dh @ A`` on rows (h, re|im) gives the spectrum's real then imaginary plane."""
    a = _angles(_half(lw), win, lw)
    dw = torch.cat([torch.cos(a), -torch.sin(a)], 0)
    b = _angles(lh, hin, lh)
    c, s = torch.cos(b), torch.sin(b)
    dh = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)])
    return dw.to(dtype), dh.reshape(2 * lh, 2 * hin).to(dtype)


@functools.lru_cache(maxsize=64)
def _inverse_matrices(h0, hout, w0, wout, lh, lw, dtype):
    """``Eh`` (2*hout, 2*lh): rows (h, re|im), columns (re|im, kh): the inverse complex DFT along
    the height at rows h0.. ; ``Ew`` (2*Fw, wout): the half-spectrum-to-real inverse along the
    width at columns w0.., each column weighted by its Hermitian multiplicity, scaled 1/(lh*lw)."""
    a = _angles(hout, lh, lh, h0)
    c, s = torch.cos(a), torch.sin(a)
    eh = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)
    wgt = _hermitian_weights(lw)[:, None] / (lh * lw)
    b = _angles(_half(lw), wout, lw, col0=w0)
    ew = torch.cat([wgt * torch.cos(b), -wgt * torch.sin(b)], 0)
    return eh.reshape(2 * hout, 2 * lh).to(dtype), ew.to(dtype)


@functools.lru_cache(maxsize=64)
def _tap_matrix(kh, kw, lh, lw, dtype):
    """(kh*kw, 2*lh*Fw): the real part of the inverse 2-D DFT at the kernel's taps, applied to a
    spectrum stored as planes (re|im, kh, kw)."""
    u = torch.arange(kh, dtype=torch.float64)[:, None, None, None]
    v = torch.arange(kw, dtype=torch.float64)[None, :, None, None]
    fh = torch.arange(lh, dtype=torch.float64)[None, None, :, None]
    fw = torch.arange(_half(lw), dtype=torch.float64)[None, None, None, :]
    theta = 2.0 * math.pi * (u * fh / lh + v * fw / lw)
    wgt = _hermitian_weights(lw) / (lh * lw)
    m = torch.stack([torch.cos(theta), -torch.sin(theta)], 2) * wgt
    return m.reshape(kh * kw, 2 * lh * _half(lw)).to(dtype)


def _spectrum(t, lh, lw):
    """(B, C, H, W) -> (2, lh*Fw, B, C): real and imaginary planes of the zero-padded 2-D DFT,
    each frequency's (B, C) block contiguous."""
    b, c, h, w = t.shape
    dw, dh = _forward_matrices(h, w, lh, lw, t.dtype)
    # along the width, one product per row h: (2Fw, w) @ (w, B*C) -> (h, re|im, kw, B*C)
    a = torch.matmul(dw, t.reshape(b * c, h, w).permute(1, 2, 0))
    # along the height: rows (h, re|im) -> rows (re|im, kh)
    return torch.mm(dh, a.view(2 * h, -1)).view(2, lh * _half(lw), b, c)


def conv2d_backward(x, weight, grad, pad, need_input=True, need_weight=True):
    """Input and weight gradients of a stride-1, undilated, ungrouped 2-D cross-correlation
    (Caffe's Convolution) with zero padding ``pad``; ``None`` for a gradient not asked for."""
    n, in_c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    ph, pw = pad
    lh, lw = h + 2 * ph, w + 2 * pw
    freqs = lh * _half(lw)
    dy = _spectrum(grad, lh, lw)
    dyr, dyi = dy[0], dy[1]
    gx = gw = None
    if need_weight:
        xp = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x
        xs = _spectrum(xp, lh, lw)
        # sum_n conj(DY) X per frequency: (O, N) @ (N, I), real and imaginary parts
        g = grad.new_empty((2, freqs, out_c, in_c))
        torch.bmm(dyr.transpose(1, 2), xs[0], out=g[0])
        g[0].baddbmm_(dyi.transpose(1, 2), xs[1])
        torch.bmm(dyr.transpose(1, 2), xs[1], out=g[1])
        g[1].baddbmm_(dyi.transpose(1, 2), xs[0], alpha=-1)
        del xs
        taps = _tap_matrix(kh, kw, lh, lw, x.dtype)
        gw = torch.mm(taps, g.view(2 * freqs, out_c * in_c)).t().reshape(out_c, in_c, kh, kw)
        del g
    if need_input:
        ws = _spectrum(weight.detach(), lh, lw)
        # sum_o DY W per frequency: (N, O) @ (O, I)
        d = grad.new_empty((2, freqs, n, in_c))
        torch.bmm(dyr, ws[0], out=d[0])
        d[0].baddbmm_(dyi, ws[1], alpha=-1)
        torch.bmm(dyr, ws[1], out=d[1])
        d[1].baddbmm_(dyi, ws[0])
        eh, ew = _inverse_matrices(ph, h, pw, w, lh, lw, x.dtype)
        # along the height: rows (re|im, kh) -> rows (h, re|im); then the width, real part
        rows = torch.mm(eh, d.view(2 * lh, -1)).view(h, 2 * _half(lw), n * in_c)
        del d
        gx = torch.matmul(rows.transpose(1, 2), ew).permute(1, 0, 2).reshape(n, in_c, h, w)
    return gx, gw
