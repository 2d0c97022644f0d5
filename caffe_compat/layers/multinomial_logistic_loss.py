"""MultinomialLogisticLoss: ``-sum_i log(max(p[i, l_i], 1e-20)) / N`` on probabilities
(``N = shape(0)``, one integer label per item; the label blob must be ``(N,)`` or
``(N, 1, 1, 1)``-like). Backward is Caffe's ``-1 / (N max(p, 1e-20))`` at the label entry,
0 elsewhere -- applied even where the 1e-20 clamp is active (autograd would give 0 there).
"""
import torch

from ._neuron import LossLayer, checked_labels
from .registry import register_layer

LOG_THRESHOLD = 1e-20


class _MultinomialLogistic(torch.autograd.Function):
    @staticmethod
    def forward(ctx, prob, labels):
        picked = prob.gather(1, labels.unsqueeze(1)).squeeze(1).clamp_min(LOG_THRESHOLD)
        ctx.save_for_backward(picked, labels)
        ctx.shape = prob.shape
        return -torch.log(picked).sum() / prob.shape[0]

    @staticmethod
    def backward(ctx, dloss):
        picked, labels = ctx.saved_tensors
        grad = torch.zeros(ctx.shape, dtype=picked.dtype, device=picked.device)
        scale = -dloss / ctx.shape[0]
        grad.scatter_(1, labels.unsqueeze(1), (scale / picked).unsqueeze(1))
        return grad, None


@register_layer("MultinomialLogisticLoss")
class MultinomialLogisticLoss(LossLayer):
    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        label = tuple(bottom_shapes[1])
        if len(label) > 4 or any(d != 1 for d in label[1:]):
            self.fail(f"the label blob must be (N,) or (N, 1, 1, 1), got shape {label}")
        return [()]

    def forward(self, prob, label):
        num = prob.shape[0]
        flat = prob.reshape(num, -1)
        lab, _ = checked_labels(self, label, (num,), flat.shape[1])
        return _MultinomialLogistic.apply(flat, lab)
