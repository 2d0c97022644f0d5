"""Caffe's PoolingLayer output size in plain integers, without torch: the rule shared by the
torch engine's Pooling layer, the array engine's and the torch-free path's converter."""
from __future__ import annotations


def pooled_size(length, k, s, p, ceil):
    """Window positions along an axis of ``length``: ``ceil((length + 2p - k) / s) + 1``
    (``floor`` without ``ceil``), one less when ``p > 0`` and the last window would start at
    or beyond ``length + p`` (PoolingLayer::Reshape)."""
    span = length + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if p > 0 and (out - 1) * s >= length + p:
        out -= 1
    return out
