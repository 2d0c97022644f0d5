"""InfogainLoss: Caffe 1.0's InfogainLossLayer, a softmax-based loss weighted by an "infogain"
matrix H (K x K, K = the number of classes, any shape of K*K values, read row-major).

The predictions ``x`` are scores: ``p = softmax(x)`` over ``infogain_loss_param.axis`` (default
1), and for every position whose label ``l`` (truncated toward zero) is not ``ignore_label``

    loss = -sum_positions sum_k H[l, k] log(max(p_k, 1e-20)) / normalizer

(with H the identity this is SoftmaxWithLoss). H comes from the third bottom, or, with two
bottoms, from the BlobProto file ``infogain_loss_param.source`` (read once at set-up). The
normalizer is ``loss_param.normalization`` (default VALID: the number of non-ignored positions;
FULL: every position; BATCH_SIZE: the items before the axis; NONE: 1), never below 1; the legacy
``normalize`` field is refused, as Caffe refuses it here. Labels: ``count(0, axis) *
count(axis + 1)`` values, each in [0, K) unless ignored.

Backward is Caffe's ``(p_k sum_j H[l, j] - H[l, k]) / normalizer`` (zero at ignored positions),
also where the 1e-20 clamp is active; no gradient to the label or to an H bottom (Caffe aborts
when asked for one). The optional second top is the softmax probabilities; gradients arriving
there are ignored, as in Caffe.
"""
import numpy as np
import torch

from ..errors import CaffeCompatError
from ..io.blobproto import read_blobproto
from ..kernels.fixed_order import softmax
from ..rules.loss import loss_rule
from ._neuron import LossLayer, checked_labels
from .base import canonical_axis, count
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "InfogainLoss", "InfogainLossParameter", {"source", "axis"})

LOG_THRESHOLD = 1e-20


class _Infogain(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, labels, valid, H, norm):
        # x: (outer, K, inner); labels, valid: (outer, inner); H: (K, K)
        prob = softmax(x, 1)
        rows = H[labels].permute(0, 2, 1)                      # (outer, K, inner)
        logs = torch.log(prob.clamp_min(LOG_THRESHOLD))
        loss = -(rows * logs * valid.unsqueeze(1)).sum() / norm
        ctx.save_for_backward(prob, labels, valid, H)
        ctx.norm = norm
        ctx.mark_non_differentiable(prob)
        return loss, prob

    @staticmethod
    def backward(ctx, dloss, dprob):
        prob, labels, valid, H = ctx.saved_tensors
        rows = H[labels].permute(0, 2, 1)
        sums = H.sum(1)[labels].unsqueeze(1)                   # (outer, 1, inner)
        grad = (prob * sums - rows) * valid.unsqueeze(1) * (dloss / ctx.norm)
        return grad, None, None, None, None


@register_layer("InfogainLoss")
class InfogainLoss(LossLayer):
    exact_bottoms = None
    min_bottoms = 2
    max_bottoms = 3
    exact_tops = None
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.loss = loss_rule(param, legacy=False)
        self.ignore_label = self.loss.ignore_label
        ip = param.infogain_loss_param
        self.axis = canonical_axis(ip.axis, len(self.bottom_shapes[0]), self.name)
        self.register_buffer("matrix", None, persistent=False)
        if len(self.bottom_shapes) < 3:
            if not ip.source:
                self.fail("the infogain matrix H must be given: infogain_loss_param.source (a "
                          ".binaryproto file) or a third bottom")
            try:
                arr = read_blobproto(ip.source)
            except CaffeCompatError as exc:
                self.fail(f"cannot read the infogain matrix (infogain_loss_param.source): {exc}")
            self.matrix = torch.from_numpy(np.ascontiguousarray(arr))
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        shapes = self.axis_tops(bottom_shapes[0], bottom_shapes[1])
        k = bottom_shapes[0][self.axis]
        h_count = count(bottom_shapes[2]) if len(bottom_shapes) > 2 else self.matrix.numel()
        if h_count != k * k:
            where = "bottom 2" if len(bottom_shapes) > 2 else \
                f"'{self.param.infogain_loss_param.source}'"
            self.fail(f"the infogain matrix ({where}) has {h_count} values; {k} classes need "
                      f"{k} x {k} = {k * k}")
        return shapes

    def forward(self, x, label, H=None):
        self.top_shapes([x.shape, label.shape] + ([H.shape] if H is not None else []))
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        k = x.shape[self.axis]
        H = (self.matrix if H is None else H).detach().to(dtype=x.dtype, device=x.device)
        lab, valid = checked_labels(self, label, (outer, inner), k, self.ignore_label)
        norm = self.loss.normalizer(outer, inner, int(valid.sum()))
        loss, prob = _Infogain.apply(x.reshape(outer, k, inner), lab, valid.to(x.dtype),
                                     H.reshape(k, k), norm)
        return (loss, prob.reshape(x.shape)) if len(self.param.top) > 1 else loss
