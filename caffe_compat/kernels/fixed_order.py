"""Sums and softmaxes whose bits do not depend on torch's thread count.

ATen reduces a tensor into few outputs (a bias gradient over a batch of feature maps, a loss
over more than its grain of 32768 elements) by splitting the summed elements among its threads
and adding their partial sums, so the association, and with it the float32 bits, follow the
thread count. oneDNN's bias gradient for a convolution with few output channels does the same
(a convolution with one output channel: other bits at 1 and 2 threads). ATen's softmax over a
channel axis hands the end of each thread's share to its scalar loop, whose ``exp`` rounds
differently from the vector one (a (2, 3, 256, 256) softmax over its channels: other bits at 3
threads than at 1). The thread policy (:mod:`caffe_compat.parallel.threads`) changes the count
with the machine's load, so such an operation in a training step would give other weights on a
busy machine than on an idle one: measured, the demo's SR-FCN (its last convolution has one
output) and the Joint-OA model started from it.

:func:`sum_dims` and :func:`softmax` run on one thread, in ATen's serial loops, whose order does
not depend on how many threads the process has; the count is set back at once (a fraction of a
microsecond; the operations served are a small part of a pass). The program's count is not
changed: torch's own setter is used, past the policy's watch of ``torch.set_num_threads``.
Elementwise functions share the scalar-tail effect where the vector and scalar code round
differently: ``torch.pow`` (Power, LRN) on some element counts, measured; ``exp``, ``log``,
``tanh`` and Caffe's sigmoid through ``tanh`` in double did not. Those layers are not covered
here.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading

import torch

__all__ = ["conv_weight_grad", "softmax", "sum_dims"]

# a convolution's weight gradient through oneDNN sums the batch in this many fixed parts, each
# on one thread (conv_weight_grad)
WEIGHT_GRAD_PARTS = 2


_threads = torch.get_num_threads


def _setter():
    fn = torch.set_num_threads
    return getattr(fn, "__wrapped__", fn)


def sum_dims(t, dims=None):
    """``t.sum(dims)`` (``t.sum()`` for None) in an order independent of the thread count (see
    the module doc)."""
    count = _threads()
    if count == 1:                 # the common case of small nets: one call, no context
        return t.sum() if dims is None else t.sum(dims)
    set_count = _setter()
    set_count(1)
    try:
        return t.sum() if dims is None else t.sum(dims)
    finally:
        set_count(count)


def softmax(x, dim):
    """``torch.softmax(x, dim)`` with the same bits at any thread count (see the module doc)."""
    count = _threads()
    if count == 1:
        return torch.softmax(x, dim=dim)
    set_count = _setter()
    set_count(1)
    try:
        return torch.softmax(x, dim=dim)
    finally:
        set_count(count)


_pool = None
_pool_lock = threading.Lock()


def _forget_pool():
    """In a forked child: the parent's helper thread is not there, so a new one is made."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _one_thread_worker():
    """The helper thread's own OpenMP count: one (a thread's count is its own)."""
    _setter()(1)


def _helper():
    """The thread that computes the second part of :func:`conv_weight_grad` while the caller
    computes the first (created on first use; a daemon, so it never holds the process)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="caffe-compat-wgrad",
                initializer=_one_thread_worker)
        return _pool


def _weight_part(grad, x, weight, stride, pad, dilation, group):
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, pad, dilation, False, [0, 0], group,
        [False, True, False])[1]


def conv_weight_grad(grad, x, weight, stride, pad, dilation, group):
    """A 2-D convolution's weight gradient by oneDNN, with the same bits at any thread count.

    oneDNN splits the batch among its threads and adds their partial gradients, so its bits
    follow the count (on AVX-512 processors, at every layer measured; on AVX2 ones not). Here
    the batch is cut into :data:`WEIGHT_GRAD_PARTS` fixed parts, each part's gradient computed
    on one thread, and the parts added in order. With two threads or more, and no core of ours
    held by another process (a part on a held core would hold up the step: the fixed shares
    this project avoids), a helper thread computes the second part while the caller computes
    the first; otherwise the caller computes both. ``grad`` and ``x`` contiguous."""
    n = x.shape[0]
    if n < WEIGHT_GRAD_PARTS:
        bounds = [(0, n)]
    else:
        step = -(-n // WEIGHT_GRAD_PARTS)
        bounds = [(a, min(n, a + step)) for a in range(0, n, step)]
    count = _threads()
    set_count = _setter()
    if count != 1:
        set_count(1)
    try:
        parallel = count > 1 and len(bounds) == 2 and _no_core_held()
        if parallel:
            a, b = bounds[1]
            later = _helper().submit(_weight_part, grad[a:b], x[a:b], weight, stride, pad,
                                     dilation, group)
        a, b = bounds[0]
        total = _weight_part(grad[a:b], x[a:b], weight, stride, pad, dilation, group)
        if parallel:
            total.add_(later.result())
        else:
            for a, b in bounds[1:]:
                total.add_(_weight_part(grad[a:b], x[a:b], weight, stride, pad, dilation,
                                        group))
        return total
    finally:
        if count != 1:
            set_count(count)


def _no_core_held():
    from ..parallel.threads import held_cores
    return held_cores() == 0
