"""SigmoidCrossEntropyLoss in Caffe's numerically stable form:
``loss = -sum[x (t - (x >= 0)) - log(1 + exp(x - 2 x (x >= 0)))] / normalizer``.

``normalization`` defaults to BATCH_SIZE here (``shape(0)``; the legacy ``normalize: true``
means VALID); VALID counts the entries whose target, truncated to int, is not ``ignore_label``
(so with ``ignore_label: 0`` a target of 0.5 is ignored too); FULL counts every entry. Ignored
entries add nothing and get no gradient. Backward: ``(sigmoid(x) - t) / normalizer``; the
targets get no gradient.
"""
import torch

from ..kernels.fixed_order import sum_dims
from ..rules.loss import BATCH_SIZE, loss_rule
from .base import count
from ._neuron import LossLayer, caffe_sigmoid, int_labels
from .registry import register_layer


class _SigmoidCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, valid, norm):
        pos = (x >= 0).to(x.dtype)
        terms = x * (target - pos) - torch.log(1 + torch.exp(x - 2 * x * pos))
        loss = -sum_dims(terms * valid) / norm
        ctx.save_for_backward(x, target, valid)
        ctx.norm = norm
        return loss

    @staticmethod
    def backward(ctx, dloss):
        x, target, valid = ctx.saved_tensors
        grad = (caffe_sigmoid(x) - target) * valid * (dloss / ctx.norm)
        return grad, None, None, None


@register_layer("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(LossLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.loss = loss_rule(param, BATCH_SIZE)
        self.ignore_label = self.loss.ignore_label
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        a, b = bottom_shapes
        if count(a) != count(b):
            self.fail(f"inputs must have the same count, got shapes {tuple(a)} and {tuple(b)}")
        return [()]

    def forward(self, x, target):
        target = target.detach().reshape(x.shape)
        valid = torch.ones_like(x)
        if self.ignore_label is not None:
            valid = (int_labels(target) != self.ignore_label).to(x.dtype)
        outer = x.shape[0]
        norm = self.loss.normalizer(outer, count(x.shape, 1), int(valid.sum()))
        return _SigmoidCE.apply(x, target, valid, norm)
