"""Axpy's rule (the SENet Caffe ports' ``axpy_layer.cpp``), read by every engine: ``F = a * X +
Y`` with bottoms ``a`` ``(N, C)`` or ``(N, C, 1, 1)``, ``X`` and ``Y`` of one shape ``(N, C,
...)``; the top has X's shape. Refused: any other shapes (the fork's CHECKs).

OpenCV 4's importer maps Axpy to Scale + Eltwise with the bottoms in another order: it computes
``a * Y + X`` and refuses ``a`` with a batch of more than one (measured with OpenCV 4.14); every
engine here keeps the fork's formula."""
from __future__ import annotations

from .refusal import refuse


def axpy_top_shape(layer, bottom_shapes):
    """The top shape of ``layer``'s bottoms ``(a, X, Y)``, refusing other shapes."""
    a, x, y = (tuple(int(d) for d in s) for s in bottom_shapes)
    if x != y or len(x) < 2 or a[:2] != x[:2] or any(d != 1 for d in a[2:]):
        refuse(layer, f"needs a (N, C[, 1, 1]) scale and two equal (N, C, ...) blobs, got {a}, "
               f"{x} and {y}")
    return x
