"""CCCLoss: ``1 - rho_c`` of two inputs, Lin's concordance correlation coefficient over the
batch, the objective of continuous emotion regression (AVEC's CCC). Not a Caffe 1.0 type: it
is ours, registered like Caffe's so any net can name it; real Caffe cannot load a net that
uses it.

For predictions ``x`` and labels ``y`` (bottoms 0 and 1, the same count; every value is one
sample, as EuclideanLoss flattens each item) with ``M`` values, population moments::

    mu_x = sum(x) / M              s_x^2 = sum((x - mu_x)^2) / M        (likewise y)
    s_xy = sum((x - mu_x)(y - mu_y)) / M
    rho_c = 2 s_xy / D,   D = s_x^2 + s_y^2 + (mu_x - mu_y)^2
    loss = 1 - rho_c

Backward is the exact gradient, written out (not left to autograd)::

    d rho_c / d x_i = (2 / M) ((y_i - mu_y) D - 2 s_xy (x_i - mu_y)) / D^2
    d rho_c / d y_i = (2 / M) ((x_i - mu_x) D - 2 s_xy (y_i - mu_x)) / D^2

(``d D / d x_i = 2 (x_i - mu_y) / M``, since the deviations of x sum to zero), times
``-loss_weight``. Gradients flow into both bottoms (the label too, when forced), as
EuclideanLoss allows. ``D == 0`` (both inputs constant and equal) is undefined: the loss is
then 1 and the gradient zero. Moments are accumulated in the inputs' dtype.
"""
import torch

from ..kernels.fixed_order import sum_dims
from .base import count
from .losses import EuclideanLoss
from .registry import register_layer


def ccc(x, y):
    """``(rho_c, s_xy, D, mu_x, mu_y)`` of two flat tensors (module doc)."""
    m = x.numel()
    mx, my = sum_dims(x) / m, sum_dims(y) / m
    dx, dy = x - mx, y - my
    sxy = sum_dims(dx * dy) / m
    d = sum_dims(dx * dx) / m + sum_dims(dy * dy) / m + (mx - my) * (mx - my)
    rho = torch.where(d > 0, 2 * sxy / torch.where(d > 0, d, torch.ones_like(d)),
                      torch.zeros_like(d))
    return rho, sxy, d, mx, my


class _CCCLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        xf, yf = x.reshape(-1), y.reshape(-1)
        rho, sxy, d, mx, my = ccc(xf, yf)
        ctx.save_for_backward(xf, yf, sxy, d, mx, my)
        ctx.shapes = (x.shape, y.shape)
        return 1 - rho

    @staticmethod
    def backward(ctx, grad):
        xf, yf, sxy, d, mx, my = ctx.saved_tensors
        m = xf.numel()
        if not bool(d > 0):
            z = torch.zeros_like(xf)
            return z.reshape(ctx.shapes[0]), torch.zeros_like(yf).reshape(ctx.shapes[1])
        scale = -grad * 2 / (m * d * d)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = (scale * ((yf - my) * d - 2 * sxy * (xf - my))).reshape(ctx.shapes[0])
        if ctx.needs_input_grad[1]:
            gy = (scale * ((xf - mx) * d - 2 * sxy * (yf - mx))).reshape(ctx.shapes[1])
        return gx, gy


@register_layer("CCCLoss")
class CCCLoss(EuclideanLoss):
    """The loss above, with EuclideanLoss's bottoms, top and gradients into both bottoms."""

    def top_shapes(self, bottom_shapes):
        a, b = bottom_shapes
        if count(a) != count(b):
            self.fail(f"inputs must have the same count (one label per prediction): {a} "
                      f"({count(a)} values) vs {b} ({count(b)} values)")
        if count(a) < 2:
            self.fail(f"needs at least 2 values to compute a concordance correlation, got "
                      f"shape {a}")
        return [()]

    def forward(self, a, b):
        return _CCCLoss.apply(a, b)
