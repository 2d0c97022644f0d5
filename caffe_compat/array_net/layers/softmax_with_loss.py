"""SoftmaxWithLoss (Caffe's SoftmaxWithLossLayer): softmax over ``softmax_param.axis``
(default 1), then ``-sum log(max(p[label], FLT_MIN)) / normalizer`` over the positions whose
label is not ``ignore_label``; the labels are the float values truncated toward zero; the
normalizer of :mod:`caffe_compat.rules.loss` (default VALID). Backward: ``(p - onehot(label))
* loss_weight / normalizer``, ignored positions zeroed. The optional second top is the
probabilities (no diff taken from it, as in Caffe). Forward and backward each read the
labels from the label blob as it is then, as Caffe's Forward_cpu and Backward_cpu do (a
program that sets the label between them: an FGSM attack's target)."""
import math

import numpy as np

from ...errors import NetError
from ...kernels import array_loop
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.loss import loss_rule
from ...rules.softmax import FIELDS, softmax_axis
from ..registry import register
from .base import BottomDiffLayer, need
from .softmax import softmax_into

declare("array", "SoftmaxWithLoss", "SoftmaxParameter", FIELDS, no_effect=ENGINE_FIELD)

FLT_MIN = np.float32(np.finfo(np.float32).tiny)


@register("SoftmaxWithLoss")
class SoftmaxWithLoss(BottomDiffLayer):
    is_loss = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 2 and len(param.top) in (1, 2), "SoftmaxWithLoss tops")
        data, label = bottom_shapes
        self.axis = softmax_axis(param, data)
        self.loss = loss_rule(param)
        self.ignore = self.loss.ignore_label
        self._prob = None
        self.top_shapes(bottom_shapes)

    def top_shapes(self, bottom_shapes):
        data, label = (tuple(s) for s in bottom_shapes)
        need(len(data) >= 1 and len(label) >= 1 and data[0] == label[0],
             "SoftmaxWithLoss first dimensions")
        outer, inner = math.prod(data[:self.axis]), math.prod(data[self.axis + 1:])
        need(outer * inner == math.prod(label), "SoftmaxWithLoss label count")
        return [()] + ([data] if len(self.param.top) > 1 else [])

    def forward(self, bottoms, tops, params):
        x, label = bottoms
        c = x.shape[self.axis]
        outer = math.prod(x.shape[:self.axis])
        inner = math.prod(x.shape[self.axis + 1:])
        prob = tops[1] if len(tops) > 1 else np.empty_like(x)
        if inner == 1 and self.ignore is None and outer:
            self._forward_rows(x.reshape(outer, c), label, prob, tops[0])
            return
        softmax_into(x, prob, self.axis)
        p3 = prob.reshape(outer, c, inner)
        safe, valid, norm = self._labels(label, outer, inner, c)
        picked = np.take_along_axis(p3, safe[:, None, :], axis=1)[:, 0, :]
        logs = np.log(np.maximum(picked, FLT_MIN))
        kept = logs[valid]
        # Caffe's loop: ``loss -= log(...)`` position after position in float32
        total = -np.add.accumulate(kept, dtype=np.float32)[-1] if kept.size else np.float32(0)
        tops[0][...] = np.float32(total / np.float32(norm))
        self._prob = prob

    def _labels(self, label, outer, inner, c):
        """``(labels, counted positions, normalizer)`` of the label blob as it is now: the
        values truncated toward zero (0 where ignored), (outer, inner); out of range refused."""
        lab = label.reshape(outer, inner).astype(np.int64)      # truncation toward zero
        valid = np.ones(lab.shape, bool) if self.ignore is None else lab != self.ignore
        bad = valid & ((lab < 0) | (lab >= c))
        if bad.any():
            raise NetError(f"layer '{self.name}': label values must lie in [0, {c}) (or equal "
                           f"ignore_label), got {sorted(set(lab[bad].tolist()))}")
        norm = self.loss.normalizer(outer, inner, int(valid.sum()))
        return np.where(valid, lab, 0), valid, norm

    def _forward_rows(self, x, label, prob, loss):
        """:meth:`forward` for one score per class and item and no ignored label: the same
        operations on (items, classes) rows, in C where the compiled training loop's
        extension is built (``kernels.array_loop.softmax_loss_rows``: ``expf`` and ``logf``,
        the functions Caffe's ``std::exp`` and ``std::log`` of float call, and the sums one
        term after the other), so that loop and this layer give the same bits."""
        n, c = x.shape
        p2 = prob.reshape(n, c)
        lab, _, norm = self._labels(label, n, 1, c)
        value = array_loop.softmax_loss_rows(x, label.reshape(n), p2, norm)
        if value is None:           # no extension: numpy's exp and log
            softmax_into(x, p2, 1)
            picked = p2[np.arange(n), lab[:, 0]]
            logs = np.log(np.maximum(picked, FLT_MIN))
            # Caffe's loop: ``loss -= log(...)`` item after item in float32
            total = -np.add.accumulate(logs, dtype=np.float32)[-1]
            value = np.float32(total / np.float32(norm))
        loss[...] = value
        self._prob = prob

    def can_backward(self):
        return self._prob is not None

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        x = bottoms[0]
        c = x.shape[self.axis]
        outer = math.prod(x.shape[:self.axis])
        np.copyto(dx, self._prob.reshape(dx.shape))
        d3 = dx.reshape(outer, c, -1)
        lab, valid, norm = self._labels(bottoms[1], outer, d3.shape[2], c)
        rows, cols = np.nonzero(valid)
        d3[rows, lab[rows, cols], cols] -= np.float32(1)
        if not valid.all():
            d3 *= valid[:, None, :]
        dx *= np.float32(np.float32(top_diffs[0]) / np.float32(norm))
