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

import torch

__all__ = ["softmax", "sum_dims"]


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
