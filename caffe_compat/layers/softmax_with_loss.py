"""SoftmaxWithLoss: softmax over ``softmax_param.axis`` (default 1), then
``-sum log(max(p[label], FLT_MIN)) / normalizer`` over the labels that are not ``ignore_label``.

Labels: ``count(0, axis) * count(axis + 1)`` float values truncated toward zero. Normalizer:
:mod:`caffe_compat.rules.loss` (default VALID; BATCH_SIZE is ``count(0, axis)``). Backward is
Caffe's ``(p - onehot) / normalizer`` with ignored positions zeroed -- also where the FLT_MIN
clamp is active. The optional second top is the probabilities; Caffe ignores any gradient
arriving there, and so does this layer.
"""
import numpy as np
import torch

from ..kernels.fixed_order import softmax, sum_dims
from .base import count
from ._neuron import LossLayer, checked_labels, int_labels
from .registry import register_layer
from ..rules.fields import ENGINE_FIELD, declare
from ..rules.loss import loss_rule
from ..rules.softmax import FIELDS, softmax_axis

declare("torch", "SoftmaxWithLoss", "SoftmaxParameter", FIELDS, no_effect=ENGINE_FIELD)

FLT_MIN = float(np.finfo(np.float32).tiny)


def softmax_loss_forward(x, labels, valid, axis, norm):
    """``(loss, prob, index)``: Caffe's SoftmaxWithLoss Forward_cpu (the autograd Function's
    forward and the explicit one)."""
    index = labels.unsqueeze(axis)
    loss, prob = _gather_loss(x, index, axis, -norm, valid)
    return loss, prob, index


def _gather_loss(x, index, axis, negative_norm, valid=None):
    """:func:`softmax_loss_forward` with the labels already in the index's shape and ``-norm``
    given: ``(loss, prob)``."""
    prob = softmax(x, axis)
    logs = torch.log(prob.gather(axis, index).clamp_min_(FLT_MIN))
    if valid is not None:
        logs = logs.squeeze(axis) * valid
    # -(sum / norm), bit for bit: negation is exact
    return torch.div(sum_dims(logs), negative_norm), prob


_MINUS_ONES = {}


def _minus_ones(shape, dtype, device):
    """A tensor of -1 (read only, kept per shape, dtype and device: a training pass asks for
    the same one every iteration)."""
    key = (tuple(shape), dtype, device)
    t = _MINUS_ONES.get(key)
    if t is None:
        if len(_MINUS_ONES) > 64:
            _MINUS_ONES.clear()
        t = _MINUS_ONES[key] = torch.full(key[0], -1.0, dtype=dtype, device=device)
    return t


def softmax_loss_backward(prob, index, valid, axis, norm, dloss):
    """The bottom diff of Caffe's SoftmaxWithLoss Backward_cpu for the loss top's diff
    ``dloss`` (the autograd Function's backward and the explicit one)."""
    grad = prob.clone()
    grad.scatter_add_(axis, index, _minus_ones(index.shape, grad.dtype, grad.device))
    if valid is not None:
        grad = grad * valid.unsqueeze(axis)
    return grad * (dloss / norm)


class _SoftmaxLoss(torch.autograd.Function):
    """``valid``: the float mask of the counted positions, or None when every position counts
    (no ``ignore_label``): multiplying by a mask of ones changes no bit, so it is skipped."""

    @staticmethod
    def forward(ctx, x, labels, valid, axis, norm):
        loss, prob, index = softmax_loss_forward(x, labels, valid, axis, norm)
        ctx.save_for_backward(prob, index, valid)
        ctx.axis, ctx.norm = axis, norm
        ctx.mark_non_differentiable(prob)
        return loss, prob

    @staticmethod
    def backward(ctx, dloss, dprob):
        prob, index, valid = ctx.saved_tensors
        return softmax_loss_backward(prob, index, valid, ctx.axis, ctx.norm, dloss), \
            None, None, None, None


@register_layer("SoftmaxWithLoss")
class SoftmaxWithLoss(LossLayer):
    exact_tops = None
    min_tops = 1
    max_tops = 2
    nondifferentiable_tops = (1,)     # the probabilities: Caffe ignores their diff

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        shape = self.bottom_shapes[0]
        self.axis = softmax_axis(param, shape)
        self.loss = loss_rule(param)
        self.ignore_label = self.loss.ignore_label
        self.top_shapes(self.bottom_shapes)

    def top_shapes(self, bottom_shapes):
        super().top_shapes(bottom_shapes)
        return self.axis_tops(*bottom_shapes)

    def _labels(self, x, label):
        """``(labels, valid mask or None, normalizer)`` for prediction ``x``: the integer labels
        in the prediction's shape less ``axis`` (0 where ignored), checked."""
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        channels = x.shape[self.axis]
        shape = x.shape[:self.axis] + x.shape[self.axis + 1:]
        if self.ignore_label is None:       # every position counts: no mask (same bits)
            lab = int_labels(label)
            if lab.shape != shape:
                lab = lab.reshape(shape)
            if not lab.is_cpu:
                # on a GPU an index out of range is a device assert, not an error: check first
                self._check_labels(lab, channels)
            # on the CPU the gather that reads p[label] checks every index; a label out of
            # range fails there and is reported by _check_labels (see _forward)
            return lab, None, self.loss.normalizer(outer, inner, outer * inner)
        lab, valid = checked_labels(self, label, (outer, inner), channels, self.ignore_label)
        norm = self.loss.normalizer(outer, inner, int(valid.sum()))
        return lab.reshape(shape), valid.reshape(shape).to(x.dtype), norm

    def _check_labels(self, lab, channels):
        """Caffe's label range (its ``DCHECK``s): a clear error naming the values out of it."""
        bad = (lab < 0) | (lab >= channels)
        if bool(bad.any()):
            self.fail(f"label values must lie in [0, {channels}) (or equal ignore_label), got "
                      f"{sorted(set(lab[bad].tolist()))}")

    def _forward(self, run, x, lab, *args):
        """``run(x, lab, *args)``; a label out of range that the gather refused is reported
        as :meth:`_check_labels` words it."""
        try:
            return run(x, lab, *args)
        except (RuntimeError, IndexError):
            self._check_labels(lab, x.shape[self.axis])
            raise

    def forward(self, x, label):
        lab, valid, norm = self._labels(x, label)
        loss, prob = self._forward(_SoftmaxLoss.apply, x, lab, valid, self.axis, norm)
        return (loss, prob) if len(self.param.top) > 1 else loss

    # Caffe's Forward_cpu / Backward_cpu as explicit calls (see Layer.explicit_forward); the
    # second top (probabilities) takes no diff, as in Caffe.
    _explicit_shapes = None

    def _explicit_plan(self, x, label):
        """Per shape pair, decided once: ``(x shape, label shape, index shape, normalizer,
        -normalizer as a float32 0-d tensor or None, -1 source, [loss diff, its scale])`` where
        every position counts (no ``ignore_label``) and ``x`` is on the CPU, else None: the
        normalizer then depends only on the shapes, and the labels need no check before the
        gather (which checks every index on the CPU). Dividing by a 0-d float32 tensor holding
        the normalizer exactly gives the bits of dividing by the Python number (both are
        CPU scalars to torch's kernel), one conversion less."""
        plan = self._explicit_shapes
        if plan is not None and plan[0] == x.shape and plan[1] == label.shape:
            return plan
        if self.ignore_label is not None or not x.is_cpu:
            return None
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        if outer * inner != label.numel():
            return None               # the generic path reports it
        index_shape = tuple(x.shape[:self.axis]) + (1,) + tuple(x.shape[self.axis + 1:])
        norm = self.loss.normalizer(outer, inner, outer * inner)
        negative = torch.tensor(-norm, dtype=x.dtype) if x.dtype == torch.float32 and \
            float(np.float32(norm)) == norm else -norm
        plan = self._explicit_shapes = (x.shape, label.shape, index_shape, norm, negative,
                                        _minus_ones(index_shape, x.dtype, x.device), [None, None])
        return plan

    @staticmethod
    def _index(label, plan):
        """The labels straight in the index's shape: the same values unsqueeze gives."""
        index = int_labels(label)
        return index.view(*plan[2]) if index.is_contiguous() else index.reshape(plan[2])

    def explicit_forward(self, x, label):
        plan = self._explicit_plan(x, label)
        if plan is None:
            lab, valid, norm = self._labels(x, label)
            loss, prob, _ = self._forward(softmax_loss_forward, x, lab, valid, self.axis, norm)
        else:
            loss, prob = self._forward(_gather_loss, x, self._index(label, plan), self.axis,
                                       plan[4])
        tops = (loss, prob) if len(self.param.top) > 1 else (loss,)
        return tops, (prob, label, plan)

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        # the label blob as it is now, as Caffe's Backward_cpu reads it (an FGSM attack sets
        # its target between forward and backward)
        prob, label, plan = saved
        dloss = top_diffs[0]
        if dloss is None or not bottom_need[0]:
            return [None, None], []
        if plan is None:
            lab, valid, norm = self._labels(prob, label)
            return [softmax_loss_backward(prob, lab.unsqueeze(self.axis), valid, self.axis,
                                          norm, dloss), None], []
        index = self._index(label, plan)
        # softmax_loss_backward's operations; the scale ``dloss / norm`` kept while the same
        # diff comes (the training pass's constant of the loss weight), the product in place
        # on the fresh copy
        scale = plan[6]
        if scale[0] is not dloss:
            scale[0], scale[1] = dloss, dloss / plan[3]
        grad = prob.clone()
        grad.scatter_add_(self.axis, index, plan[5])
        return [grad.mul_(scale[1]), None], []
