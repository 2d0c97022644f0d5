"""EuclideanLoss: ``sum((a - b)^2) / (2 N)`` with N = ``a.shape[0]``; gradients flow into both
inputs (Caffe allows forcing backward into the second one)."""
from ..kernels.fixed_order import sum_dims
from .base import Layer, count
from .registry import register_layer


@register_layer("EuclideanLoss")
class EuclideanLoss(Layer):
    exact_bottoms = 2
    exact_tops = 1
    is_loss = True

    def allow_force_backward(self, bottom_index):
        return True

    def top_shapes(self, bottom_shapes):
        a, b = bottom_shapes
        if len(a) < 1 or len(b) < 1:
            self.fail("inputs must have at least one axis (Caffe divides by shape(0))")
        if count(a, 1) != count(b, 1):
            self.fail(f"inputs must have the same count per item: {a} vs {b}")
        return [()]

    def forward(self, a, b):
        d = a.reshape(a.shape[0], -1) - b.reshape(b.shape[0], -1)
        return sum_dims(d * d) / a.shape[0] / 2.0
