"""Sums and softmaxes whose bits do not depend on torch's thread count.

ATen reduces a tensor into few outputs (a bias gradient over a batch, a loss over more than
its grain of 32768 elements) by adding per-thread partial sums, so the float32 bits follow
the thread count; so does oneDNN's bias gradient for a convolution with few output channels.
ATen's softmax over a channel axis hands the end of each thread's share to its scalar loop,
whose ``exp`` rounds differently (over the last axis, or one followed by axes of size 1, the
bits do not move: :func:`softmax`). The thread policy (:mod:`caffe_compat.parallel.threads`)
changes the count with the machine's load, so a training step would give other weights on
a busy machine (docs/reproduction.md, "What reproduces bit for bit").

:func:`sum_dims` and :func:`softmax` run on one thread, in ATen's serial loops, the count set
back at once. Not covered: elementwise functions whose vector and scalar code round
differently (``torch.pow``: Power, LRN, on some element counts)."""
from __future__ import annotations

import math

import torch

from ..parallel.helper import Helper
from ..parallel.threads import held_cores

__all__ = ["conv_weight_grad", "pointwise_grads", "softmax", "sum_dims"]


def _on_one_thread(fn, *args):
    """``fn(*args)`` on one thread, the count put back after it (one call where it is one
    already: the common case of small nets)."""
    count = torch.get_num_threads()
    if count == 1:
        return fn(*args)
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(count)


def sum_dims(t, dims=None):
    """``t.sum(dims)`` (``t.sum()`` for None) in an order independent of the thread count (see
    the module doc)."""
    return _on_one_thread(t.sum) if dims is None else _on_one_thread(t.sum, dims)


def softmax(x, dim):
    """``torch.softmax(x, dim)`` with the same bits at any thread count (see the module doc).
    A classifier's probabilities run on the pass's count: over the last axis ATen gives each
    thread whole rows, all in the same vector code, and over an axis followed only by axes of
    size 1 (a (N, C, 1, 1) blob) every output takes its scalar loop, however the threads
    split them. Setting the count to one and back there would cost the next parallel operator
    its thread team."""
    if x.dim() == 0 or math.prod(x.shape[dim % x.dim() + 1:]) == 1:
        return torch.softmax(x, dim)
    return _on_one_thread(torch.softmax, x, dim)


def _one_thread_worker():
    """The helper thread's own OpenMP count: one (a thread's count is its own)."""
    torch.set_num_threads(1)


# the thread that computes the second half of conv_weight_grad while the caller computes the
# first
_HELPER = Helper("caffe-compat-wgrad", _one_thread_worker)


def _weight_part(grad, x, weight, geometry):
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, *geometry[:3], False, [0, 0], geometry[3],
        [False, True, False])[1]


def _helper_free():
    """Whether the helper thread may take a second part: two threads or more, and no core of
    ours held by another process (a part on a held core would hold up the step)."""
    return torch.get_num_threads() > 1 and held_cores() == 0


def _both(part, first, second, parallel):
    """``(part(*first), part(*second))``: the second by the helper thread when ``parallel``,
    else after the first on the caller."""
    if parallel:
        later = _HELPER.submit(part, *second)
        return part(*first), later.result()
    return part(*first), part(*second)


def _weight_halves(grad, x, weight, geometry, parallel):
    """The first half's gradient plus the second's (the second by the helper thread when
    ``parallel``), on the calling thread's count as set."""
    half = -(-x.shape[0] // 2)
    first, second = _both(_weight_part, (grad[:half], x[:half], weight, geometry),
                          (grad[half:], x[half:], weight, geometry), parallel)
    return first.add_(second)


def conv_weight_grad(grad, x, weight, stride, pad, dilation, group):
    """A 2-D convolution's weight gradient by oneDNN, with the same bits at any thread count.

    oneDNN splits the batch among its threads and adds their partial gradients, so its bits
    follow the count (on AVX-512 processors, at every layer measured; on AVX2 ones not). Here
    the batch is cut into two fixed halves, each computed on one thread, the second added to
    the first: by a helper thread beside the caller with two threads or more and no core of
    ours held by another process, else both by the caller. One image is cut into two fixed
    output-channel halves instead (:func:`_channel_halves`; a layer of at least
    :data:`CHANNEL_SPLIT_MIN_WORK` multiply-adds). ``grad`` and ``x`` contiguous."""
    geometry = (stride, pad, dilation, group)
    if x.shape[0] < 2:
        split = _channel_split(weight, grad, group)
        if split is None:
            return _on_one_thread(_weight_part, grad, x, weight, geometry)
        return _on_one_thread(_channel_halves, grad, x, weight, geometry, split,
                              _helper_free())
    return _on_one_thread(_weight_halves, grad, x, weight, geometry, _helper_free())


# One image's weight gradient is cut into two output-channel halves from this much work (the
# layer's multiply-adds); below it the helper thread's hand-over costs more than it saves.
CHANNEL_SPLIT_MIN_WORK = 1 << 21


def _channel_split(weight, grad, group):
    """``(outputs, inputs, groups)`` of the first output-channel half of one image's weight
    gradient (whole groups, so each half is a convolution of its own), or None where the layer
    is too small or its groups do not halve (an odd count above one)."""
    if group > 1 and group % 2:
        return None
    work = weight.numel() * grad.shape[2:].numel()
    if work < CHANNEL_SPLIT_MIN_WORK or weight.shape[0] < 2:
        return None
    if group == 1:
        return -(-weight.shape[0] // 2), None, 1
    half = group // 2
    return weight.shape[0] // group * half, weight.shape[1] * half, half


def _channel_halves(grad, x, weight, geometry, split, parallel):
    """One image's weight gradient as two fixed output-channel halves (``split``, from
    :func:`_channel_split`), each on one thread (the second by the helper thread when
    ``parallel``): every output channel's gradient is a sum of its own, so the halves are two
    smaller convolutions' gradients, stacked."""
    outputs, inputs, groups = split
    stride, pad, dilation, group = geometry
    first_x = x if inputs is None else x[:, :inputs].contiguous()
    second_x = x if inputs is None else x[:, inputs:].contiguous()
    parts = ((grad[:, :outputs].contiguous(), first_x, weight[:outputs],
              (stride, pad, dilation, groups)),
             (grad[:, outputs:].contiguous(), second_x, weight[outputs:],
              (stride, pad, dilation, group - groups if group > 1 else 1)))
    return torch.cat(_both(_weight_part, parts[0], parts[1], parallel))


# A 1x1 convolution's two products are cut into fixed halves from this much work (its
# multiply-adds per product); smaller ones run whole on one thread.
POINTWISE_SPLIT_MIN_WORK = 1 << 22


def is_pointwise(x, weight, stride, pad, dilation, group):
    """A 1x1 convolution of one image without stride, padding, dilation or groups: its
    gradients are two matrix products (:func:`pointwise_grads`)."""
    return (x.dim() == 4 and x.shape[0] == 1 and group == 1 and weight.shape[2:] == (1, 1)
            and tuple(stride) == (1, 1) and tuple(pad) == (0, 0)
            and tuple(dilation) == (1, 1) and x.dtype == weight.dtype)


def pointwise_grads(grad, x, weight, need_input, need_weight):
    """``(input gradient, weight gradient)`` of a 1x1 convolution of one image
    (:func:`is_pointwise`; None where not needed), with the same bits at any thread count.

    With ``X`` the image as (C, H*W), ``W`` the weights as (O, C) and ``G`` the top diff as
    (O, H*W), the input gradient is ``W^T G`` and the weight gradient ``G X^T``: Caffe's own two
    gemms for such a layer (no im2col). oneDNN's convolution backward spends most of its time
    on set-up at the small sizes where these layers sit. Each product runs on one thread; from
    :data:`POINTWISE_SPLIT_MIN_WORK` multiply-adds it is cut into two fixed halves (input
    channels of the first, output channels of the second), the second halves computed by the
    helper thread of :func:`conv_weight_grad` where two threads are free, else by the caller:
    the parts do not depend on the count, so neither do the bits."""
    c, o = x.shape[1], weight.shape[0]
    xm = x.reshape(c, -1)
    wm = weight.reshape(o, c)
    gm = grad.reshape(o, -1)
    split = o * c * xm.shape[1] >= POINTWISE_SPLIT_MIN_WORK and c >= 2 and o >= 2
    first, second = [], []
    if need_input:
        if split:
            half = c // 2
            first.append((wm[:, :half].t(), gm))
            second.append((wm[:, half:].t(), gm))
        else:
            first.append((wm.t(), gm))
    if need_weight:
        if split:
            half = o // 2
            first.append((gm[:half], xm.t()))
            second.append((gm[half:], xm.t()))
        else:
            first.append((gm, xm.t()))
    done, rest = _on_one_thread(_both, lambda pairs: [torch.mm(a, b) for a, b in pairs],
                                (first,), (second,), bool(second) and _helper_free())
    gx = gw = None
    if need_input:
        gx = (torch.cat([done[0], rest[0]]) if split else done[0]).view_as(x)
    if need_weight:
        k = 1 if need_input else 0
        gw = (torch.cat([done[k], rest[k]]) if split else done[k]).view_as(weight)
    return gx, gw
