"""Sums whose bits do not depend on torch's thread count.

ATen reduces a tensor into few outputs (a bias gradient over a batch of feature maps, a loss
over more than its grain of 32768 elements) by splitting the summed elements among its threads
and adding their partial sums, so the association, and with it the float32 bits, follow the
thread count. oneDNN's bias gradient for a convolution with few output channels does the same
(a convolution with one output channel: other bits at 1 and 2 threads). The thread policy
(:mod:`caffe_compat.parallel.threads`) changes the count with the machine's load, so such a sum
in a training step would give other weights on a busy machine than on an idle one: measured,
the demo's SR-FCN (its last convolution has one output) and the Joint-OA model started from it.

:func:`sum_dims` runs the sum on one thread, ATen's serial loop, whose order does not depend on
how many threads the process has; the count is set back at once (a fraction of a microsecond;
the sums it serves are a small part of a backward pass). The program's count is not changed:
torch's own setter is used, past the policy's watch of ``torch.set_num_threads``.
"""
from __future__ import annotations

import torch

__all__ = ["sum_dims"]


def _setter():
    fn = torch.set_num_threads
    return getattr(fn, "__wrapped__", fn)


def sum_dims(t, dims):
    """``t.sum(dims)`` in an order independent of the thread count (see the module doc)."""
    n = torch.get_num_threads()
    if n == 1:
        return t.sum(dims)
    setter = _setter()
    setter(1)
    try:
        return t.sum(dims)
    finally:
        setter(n)
