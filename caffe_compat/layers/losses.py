"""Caffe's loss layers of one formula each: EuclideanLoss, HingeLoss, MultinomialLogisticLoss,
SigmoidCrossEntropyLoss and ContrastiveLoss (each class says its loss and its backward)."""
import torch

from ..kernels.fixed_order import sum_dims
from ..proto import caffe_pb2
from ..rules.fields import declare
from ..rules.loss import BATCH_SIZE, loss_rule
from ._neuron import LossLayer, caffe_sigmoid, checked_labels, int_labels
from .base import Layer, count
from .registry import register_layer

declare("torch", "HingeLoss", "HingeLossParameter", {"norm"})
declare("torch", "ContrastiveLoss", "ContrastiveLossParameter", {"margin", "legacy_version"})

_NORM = caffe_pb2.HingeLossParameter
LOG_THRESHOLD = 1e-20


@register_layer("EuclideanLoss")
class EuclideanLoss(Layer):
    """EuclideanLoss: ``sum((a - b)^2) / (2 N)`` with N = ``a.shape[0]``; gradients flow into both
    inputs (Caffe allows forcing backward into the second one)."""
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


@register_layer("HingeLoss")
class HingeLoss(LossLayer):
    """HingeLoss (one-vs-all): for item ``i`` with integer label ``l_i`` over ``dim = count(1)``
    scores, ``m_ij = max(0, 1 + s_ij x_ij)`` with ``s = -1`` for the true class and ``+1`` for the
    others; loss ``sum(m) / N`` (L1, default) or ``sum(m^2) / N`` (L2), ``N = shape(0)``.

    Backward (Caffe's): L1 ``s * sign(m) / N`` (0 exactly at the margin), L2 ``2 s m / N``; the
    labels get no gradient.
    """

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.norm = param.hinge_loss_param.norm
        if self.norm not in (_NORM.L1, _NORM.L2):
            self.fail(f"hinge_loss_param.norm must be L1 or L2, got {self.norm}")
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        data, label = bottom_shapes
        if count(label) != data[0]:
            self.fail(f"needs one label per item: {data[0]} items, label shape {tuple(label)}")
        return [()]

    def forward(self, x, label):
        num = x.shape[0]
        flat = x.reshape(num, -1)
        lab, _ = checked_labels(self, label, (num,), flat.shape[1])
        sign = torch.ones_like(flat)
        sign.scatter_(1, lab.unsqueeze(1), -1.0)
        # relu's gradient is 0 at 0, which is Caffe's sign(0) = 0 for L1.
        margin = torch.relu(1 + flat * sign)
        return margin.sum() / num if self.norm == _NORM.L1 else (margin * margin).sum() / num


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
    """MultinomialLogisticLoss: ``-sum_i log(max(p[i, l_i], 1e-20)) / N`` on probabilities
    (``N = shape(0)``, one integer label per item; the label blob must be ``(N,)`` or
    ``(N, 1, 1, 1)``-like). Backward is Caffe's ``-1 / (N max(p, 1e-20))`` at the label entry,
    0 elsewhere -- applied even where the 1e-20 clamp is active (autograd would give 0 there).
    """

    shapes_at_setup = True

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
    """SigmoidCrossEntropyLoss in Caffe's numerically stable form:
    ``loss = -sum[x (t - (x >= 0)) - log(1 + exp(x - 2 x (x >= 0)))] / normalizer``.

    ``normalization`` defaults to BATCH_SIZE here (``shape(0)``; the legacy ``normalize: true``
    means VALID); VALID counts the entries whose target, truncated to int, is not ``ignore_label``
    (so with ``ignore_label: 0`` a target of 0.5 is ignored too); FULL counts every entry. Ignored
    entries add nothing and get no gradient. Backward: ``(sigmoid(x) - t) / normalizer``; the
    targets get no gradient.
    """

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
    """ContrastiveLoss: Caffe's ContrastiveLossLayer on feature pairs ``a``, ``b`` (N x C, or
    N x C x 1 x 1) and a similarity label ``y`` (N values, truncated toward zero; non-zero =
    similar).

    With ``d^2 = ||a_n - b_n||^2`` and ``m = contrastive_loss_param.margin`` (default 1):

        loss = sum_n [ y_n d^2 + (1 - y_n) max(m - d, 0)^2 ] / (2 N)         (default)
        loss = sum_n [ y_n d^2 + (1 - y_n) max(m - d^2, 0) ] / (2 N)         (legacy_version)

    Backward is Caffe's, which for the default form is not the exact gradient: for a dissimilar
    pair with ``m - d > 0`` Caffe uses ``-(m - d) / (d + 1e-4) * (a - b) / N`` (a small constant
    keeps it finite at d = 0); legacy: ``-(a - b) / N`` where ``m - d^2 > 0``; similar pairs
    ``(a - b) / N``; ``b`` receives the negation. Both scaled by the loss weight. No gradient to
    ``y`` (Caffe refuses it, also under ``force_backward``).
    """
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
