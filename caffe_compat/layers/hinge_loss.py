"""HingeLoss (one-vs-all): for item ``i`` with integer label ``l_i`` over ``dim = count(1)``
scores, ``m_ij = max(0, 1 + s_ij x_ij)`` with ``s = -1`` for the true class and ``+1`` for the
others; loss ``sum(m) / N`` (L1, default) or ``sum(m^2) / N`` (L2), ``N = shape(0)``.

Backward (Caffe's): L1 ``s * sign(m) / N`` (0 exactly at the margin), L2 ``2 s m / N``; the
labels get no gradient.
"""
import torch

from ..proto import caffe_pb2
from .base import count
from ._neuron import LossLayer, checked_labels
from .registry import register_layer
from ..rules.fields import declare

_NORM = caffe_pb2.HingeLossParameter

declare("torch", "HingeLoss", "HingeLossParameter", {"norm"})


@register_layer("HingeLoss")
class HingeLoss(LossLayer):
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
        if self.norm == _NORM.L1:
            return margin.sum() / num
        return (margin * margin).sum() / num
