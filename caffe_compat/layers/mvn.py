"""MVN: mean (and variance) normalisation per (num, channel), or per num with
``across_channels`` (bottoms of at most 4 axes, Caffe's legacy accessors).

``y = (x - mean) / (sqrt(var) + eps)`` with ``var`` the mean squared deviation and ``eps``
(default 1e-9) added to the standard deviation, not inside the root. Caffe's backward is not the
exact gradient of that form: it computes ``(dy - mean(dy) - y * mean(dy * y)) / (sqrt(var) + eps)``,
dropping the factor ``1 + eps / sqrt(var)`` on the last term; this module reproduces it. Without
``normalize_variance``: ``y = x - mean`` and ``dx = dy - mean(dy)``.
"""
import torch

from ..rules.fields import declare
from ..rules.mvn import FIELDS, mvn_rule
from .base import Layer
from .registry import register_layer

declare("torch", "MVN", "MVNParameter", FIELDS)


class _MVN(torch.autograd.Function):
    """Rows of a (num, dim) matrix normalised, with Caffe's backward."""

    @staticmethod
    def forward(ctx, x, normalize_variance, eps):
        centered = x - x.mean(dim=1, keepdim=True)
        if not normalize_variance:
            ctx.normalize_variance = False
            return centered
        denom = torch.sqrt((centered * centered).mean(dim=1, keepdim=True)) + eps
        y = centered / denom
        ctx.normalize_variance = True
        ctx.save_for_backward(y, denom)
        return y

    @staticmethod
    def backward(ctx, dy):
        if not ctx.normalize_variance:
            return dy - dy.mean(dim=1, keepdim=True), None, None
        y, denom = ctx.saved_tensors
        dx = dy - dy.mean(dim=1, keepdim=True) - y * (dy * y).mean(dim=1, keepdim=True)
        return dx / denom, None, None


@register_layer("MVN")
class MVN(Layer):
    rule_of = staticmethod(mvn_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.normalize_variance = rule.normalize_variance
        self.across_channels = rule.across_channels
        self.eps = rule.eps

    def forward(self, x):
        rows = x.shape[0] if self.across_channels or x.dim() < 2 else x.shape[0] * x.shape[1]
        y = _MVN.apply(x.reshape(rows, -1), self.normalize_variance, self.eps)
        return y.reshape(x.shape)
