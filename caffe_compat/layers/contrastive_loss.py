"""ContrastiveLoss: Caffe's ContrastiveLossLayer on feature pairs ``a``, ``b`` (N x C, or
N x C x 1 x 1) and a similarity label ``y`` (N values, truncated toward zero; non-zero = similar).

With ``d^2 = ||a_n - b_n||^2`` and ``m = contrastive_loss_param.margin`` (default 1):

    loss = sum_n [ y_n d^2 + (1 - y_n) max(m - d, 0)^2 ] / (2 N)         (default)
    loss = sum_n [ y_n d^2 + (1 - y_n) max(m - d^2, 0) ] / (2 N)         (legacy_version)

Backward is Caffe's, which for the default form is not the exact gradient: for a dissimilar
pair with ``m - d > 0`` Caffe uses ``-(m - d) / (d + 1e-4) * (a - b) / N`` (a small constant
keeps it finite at d = 0); legacy: ``-(a - b) / N`` where ``m - d^2 > 0``; similar pairs
``(a - b) / N``; ``b`` receives the negation. Both scaled by the loss weight. No gradient to
``y`` (Caffe refuses it, also under ``force_backward``).
"""
import torch

from ._neuron import LossLayer, int_labels
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "ContrastiveLoss", "ContrastiveLossParameter", {"margin", "legacy_version"})


class _Contrastive(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, similar, margin, legacy):
        diff = a - b
        dist_sq = (diff * diff).sum(1)
        if legacy:
            dissimilar = torch.clamp(margin - dist_sq, min=0)
        else:
            dissimilar = torch.clamp(margin - torch.sqrt(dist_sq), min=0) ** 2
        terms = torch.where(similar, dist_sq, dissimilar)
        ctx.save_for_backward(diff, dist_sq, similar)
        ctx.margin, ctx.legacy = margin, legacy
        return terms.sum() / a.shape[0] / 2

    @staticmethod
    def backward(ctx, dloss):
        diff, dist_sq, similar = ctx.saved_tensors
        alpha = dloss / diff.shape[0]
        if ctx.legacy:
            mdist = ctx.margin - dist_sq
            beta = -alpha * torch.ones_like(dist_sq)
        else:
            dist = torch.sqrt(dist_sq)
            mdist = ctx.margin - dist
            beta = -alpha * mdist / (dist + 1e-4)
        coeff = torch.where(similar, alpha * torch.ones_like(dist_sq),
                            torch.where(mdist > 0, beta, torch.zeros_like(dist_sq)))
        grad = coeff.unsqueeze(1) * diff
        return (grad if ctx.needs_input_grad[0] else None,
                -grad if ctx.needs_input_grad[1] else None, None, None, None)


@register_layer("ContrastiveLoss")
class ContrastiveLoss(LossLayer):
    exact_bottoms = 3

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        cp = param.contrastive_loss_param
        self.margin = float(cp.margin)
        self.legacy = bool(cp.legacy_version)
        self.top_shapes(self.bottom_shapes)

    def allow_force_backward(self, bottom_index):
        return bottom_index != 2

    def check_first_dims(self, shapes):
        a, b = shapes[0], shapes[1]
        if len(a) < 1 or len(b) < 1 or a[0] != b[0]:
            self.fail(f"a and b must have the same number of pairs (first dimension), got "
                      f"shapes {tuple(a)} and {tuple(b)}")

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        a, b, y = (tuple(s) for s in bottom_shapes)
        for k, shape in enumerate((a, b, y)):
            if len(shape) > 4:
                self.fail(f"bottom {k} has {len(shape)} axes (shape {shape}); Caffe's legacy "
                          "num/channels/height/width accessors allow at most 4")
        legacy = [tuple(s) + (1,) * (4 - len(s)) for s in (a, b, y)]
        if legacy[0][1] != legacy[1][1]:
            self.fail(f"a and b must have the same number of channels, got shapes {a} and {b}")
        for k in (0, 1):
            if legacy[k][2:] != (1, 1):
                self.fail(f"bottom {k} must be N x C (x 1 x 1), got shape {(a, b)[k]}")
        if legacy[2][1:] != (1, 1, 1):
            self.fail(f"the similarity label must be N x 1 (x 1 x 1), got shape {y}")
        if y[0] != a[0]:
            self.fail(f"the similarity label must have one value per pair ({a[0]}), got shape "
                      f"{y}")
        return [()]

    def forward(self, a, b, y):
        n = a.shape[0]
        similar = int_labels(y).reshape(n) != 0
        return _Contrastive.apply(a.reshape(n, -1), b.reshape(n, -1), similar, self.margin,
                                  self.legacy)
