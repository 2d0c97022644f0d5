"""SoftmaxWithLoss: softmax over ``softmax_param.axis`` (default 1), then
``-sum log(max(p[label], FLT_MIN)) / normalizer`` over the labels that are not ``ignore_label``.

Labels: ``count(0, axis) * count(axis + 1)`` float values truncated toward zero. Normalizer
(``loss_param.normalization``, default VALID; the legacy ``normalize: true/false`` means
VALID/BATCH_SIZE when ``normalization`` is unset): FULL = every position (ignored ones
included), VALID = non-ignored positions, BATCH_SIZE = ``count(0, axis)``, NONE = 1; never
below 1. Backward is Caffe's ``(p - onehot) / normalizer`` with ignored positions zeroed -- also
where the FLT_MIN clamp is active. The optional second top is the probabilities; Caffe ignores
any gradient arriving there, and so does this layer.
"""
import numpy as np
import torch

from ..proto import caffe_pb2
from .base import canonical_axis, count
from ._neuron import LossLayer, int_labels, normalization_mode, normalizer
from .registry import register_layer

FLT_MIN = float(np.finfo(np.float32).tiny)


class _SoftmaxLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, labels, valid, axis, norm):
        prob = torch.softmax(x, dim=axis)
        picked = prob.gather(axis, labels.unsqueeze(axis)).squeeze(axis)
        logs = torch.log(picked.clamp_min(FLT_MIN))
        loss = -(logs * valid).sum() / norm
        ctx.save_for_backward(prob, labels, valid)
        ctx.axis, ctx.norm = axis, norm
        ctx.mark_non_differentiable(prob)
        return loss, prob

    @staticmethod
    def backward(ctx, dloss, dprob):
        prob, labels, valid = ctx.saved_tensors
        axis = ctx.axis
        grad = prob.clone()
        grad.scatter_add_(axis, labels.unsqueeze(axis),
                          -torch.ones_like(labels, dtype=grad.dtype).unsqueeze(axis))
        grad = grad * valid.unsqueeze(axis) * (dloss / ctx.norm)
        return grad, None, None, None, None


@register_layer("SoftmaxWithLoss")
class SoftmaxWithLoss(LossLayer):
    exact_tops = None
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(param.softmax_param.axis, len(shape), self.name)
        self.mode = normalization_mode(self, caffe_pb2.LossParameter.VALID)
        lp = param.loss_param
        self.ignore_label = int(lp.ignore_label) if lp.HasField("ignore_label") else None
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        data, label = bottom_shapes
        outer, inner = count(data, 0, self.axis), count(data, self.axis + 1)
        if outer * inner != count(label):
            self.fail(f"the label count ({count(label)}, shape {tuple(label)}) must equal "
                      f"outer * inner = {outer} * {inner} for prediction shape {tuple(data)} "
                      f"and axis {self.axis}")
        shapes = [()]
        if len(self.param.top) > 1:
            shapes.append(tuple(data))
        return shapes

    def forward(self, x, label):
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        channels = x.shape[self.axis]
        lab = int_labels(label).reshape(outer, inner)
        valid = torch.ones_like(lab, dtype=torch.bool)
        if self.ignore_label is not None:
            valid = lab != self.ignore_label
        bad = valid & ((lab < 0) | (lab >= channels))
        if bool(bad.any()):
            self.fail(f"label values must lie in [0, {channels}) (or equal ignore_label), got "
                      f"{sorted(set(lab[bad].tolist()))}")
        lab = torch.where(valid, lab, torch.zeros_like(lab))
        shape = x.shape[:self.axis] + x.shape[self.axis + 1:]
        norm = normalizer(self.mode, outer, inner, int(valid.sum()))
        loss, prob = _SoftmaxLoss.apply(x, lab.reshape(shape), valid.reshape(shape).to(x.dtype),
                                        self.axis, norm)
        return (loss, prob) if len(self.param.top) > 1 else loss
