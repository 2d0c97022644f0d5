"""EuclideanLoss (Caffe's EuclideanLossLayer): ``diff = a - b``, loss ``dot(diff, diff) / num /
2`` in float32 (``num``: the first dimension). Backward: ``sign * loss_weight / num * diff``
into each bottom that takes a gradient (``sign`` +1 for the first, -1 for the second;
``caffe_cpu_axpby`` with beta 0). The dot product is numpy's float32 ``dot`` (OpenBLAS's
sdot, as Caffe's ``caffe_cpu_dot``; the summation order may differ from Caffe's build)."""
import math

import numpy as np

from ..registry import register
from .base import ArrayLayer, need


@register("EuclideanLoss")
class EuclideanLoss(ArrayLayer):
    is_loss = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 2 and len(param.top) == 1, "EuclideanLoss of two bottoms")
        self._diff = None
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        a, b = (tuple(s) for s in bottom_shapes)
        need(len(a) >= 1 and math.prod(a[1:]) == math.prod(b[1:]) and a[:1] == b[:1],
             "EuclideanLoss bottoms of one size per item")
        return [()]

    def forward(self, bottoms, tops, params):
        a, b = bottoms
        diff = self._diff
        if diff is None or diff.size != a.size:
            diff = self._diff = np.empty(a.size, np.float32)
        np.subtract(a.reshape(-1), b.reshape(-1), out=diff)
        dot = np.float32(np.dot(diff, diff))
        tops[0][...] = np.float32(dot / np.float32(a.shape[0]) / np.float32(2))

    def allow_force_backward(self, j):
        """EuclideanLossLayer::AllowForceBackward: both bottoms."""
        return True

    def can_backward(self):
        return self._diff is not None

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        num = np.float32(bottoms[0].shape[0])
        for sign, dx in ((np.float32(1), bottom_diffs[0]), (np.float32(-1), bottom_diffs[1])):
            if dx is not None:
                alpha = np.float32(sign * np.float32(top_diffs[0]) / num)
                np.multiply(self._diff.reshape(dx.shape), alpha, out=dx)
