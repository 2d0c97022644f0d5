"""Axpy (SENet Caffe ports): ``F = a * X + Y`` with bottoms ``a`` ``(N, C)`` or ``(N, C, 1, 1)``,
``X`` and ``Y`` ``(N, C, H, W)``, the fork's definition.

OpenCV 4's importer maps Axpy to Scale + Eltwise with the bottoms in another order: it computes
``a * Y + X`` and refuses ``a`` with a batch of more than one (measured with OpenCV 4.14); this
layer keeps the fork's formula (see test_axpy.py). Backward: autograd.
"""
from .base import Layer
from .registry import register_layer


@register_layer("Axpy")
class Axpy(Layer):
    exact_bottoms = 3
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        a, x, y = (tuple(s) for s in bottom_shapes)
        if x != y or len(x) < 2 or a[:2] != x[:2] or any(d != 1 for d in a[2:]):
            self.fail(f"needs a (N, C[, 1, 1]) scale and two equal (N, C, ...) blobs, got {a}, "
                      f"{x} and {y}")
        return [x]

    def forward(self, a, x, y):
        return a.reshape(a.shape[:2] + (1,) * (x.dim() - 2)) * x + y
