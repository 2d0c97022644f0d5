"""Shared pieces of the element-wise (Caffe "neuron") layers and of the loss layers.

``elementwise(x, fwd, bwd)`` runs ``fwd`` and gives autograd Caffe's own backward formula
``bwd(x, y, dy)`` instead of the derivative of ``fwd``: several Caffe layers back-propagate
something other than the true gradient at special points (ELU at 0, Power's ``y / x`` forms,
Clip at its bounds, BNLL's cut-off at 50).
"""
from __future__ import annotations

import numpy as np
import torch

from .base import Layer, count


def f32(value):
    """``value`` rounded to float32 and back: constants that Caffe computes as ``Dtype``."""
    return float(np.float32(value))


class _CaffeBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fwd, bwd):
        y = fwd(x)
        ctx.save_for_backward(x, y)
        ctx.bwd = bwd
        return y

    @staticmethod
    def backward(ctx, dy):
        x, y = ctx.saved_tensors
        return ctx.bwd(x, y, dy), None, None


class BlobRead(torch.autograd.Function):
    """``apply(x, layer, values, name)``: ``layer.forward(x)`` whose gradient is
    ``layer.in_place_backward(x, values[name], dy)``, the blob read when the backward runs."""

    @staticmethod
    def forward(ctx, x, layer, values, name):
        ctx.save_for_backward(x)
        ctx.layer, ctx.values, ctx.name = layer, values, name
        return layer.forward(x)

    @staticmethod
    def backward(ctx, dy):
        data = ctx.values[ctx.name].detach()
        return ctx.layer.in_place_backward(ctx.saved_tensors[0], data, dy), None, None, None


def elementwise(x, fwd, bwd):
    """``fwd(x)`` whose gradient is ``bwd(x, fwd(x), dy)`` (Caffe's Backward_cpu formula)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _CaffeBackward.apply(x, fwd, bwd)
    return fwd(x)


def scaled_shifted(x, scale, shift):
    """``shift + scale x`` with only the steps that change the value, as Caffe's PowerLayer and
    LogLayer take them."""
    t = x if scale == 1.0 else x * scale
    return t if shift == 0.0 else t + shift


class NeuronLayer(Layer):
    """Caffe's NeuronLayer: one bottom, one top of the same shape (in place allowed)."""

    item_wise = True
    exact_bottoms = 1
    exact_tops = 1

    def top_shapes(self, bottom_shapes):
        return [tuple(bottom_shapes[0])]


class FormulaNeuronLayer(NeuronLayer):
    """A neuron layer of ``_fwd(x)`` whose gradient is Caffe's ``_bwd(x, y, dy)``; run in
    place, Caffe's backward reads x and y from the blob (:attr:`Layer.in_place_backward`)."""

    # Caffe's Power and Log write their factor into the bottom diff before multiplying it by
    # the top diff: in place (the same memory) the factor squared
    factor_first = False

    def forward(self, x):
        return elementwise(x, self._fwd, self._bwd)

    def in_place_backward(self, x, data, dy):
        if self.factor_first:                   # the factor, computed once, times itself
            d = self._bwd(data, data, torch.ones_like(dy))
            return d * d
        return self._bwd(data, data, dy)


class NoBackwardLayer(Layer):
    """A layer whose Caffe Backward is not implemented: its tops carry no gradient."""

    def allow_force_backward(self, bottom_index):
        return False


def caffe_sigmoid(x):
    """Caffe's sigmoid, ``0.5 * tanh(0.5 x) + 0.5`` evaluated in double, rounded to x's dtype
    (Sigmoid, Swish and SigmoidCrossEntropyLoss all use it)."""
    return (0.5 * torch.tanh(0.5 * x.double()) + 0.5).to(x.dtype)


# ---------------------------------------------------------------------------- loss layers
def int_labels(label):
    """Caffe's ``static_cast<int>(label)``: truncation toward zero of the float labels."""
    return (label.detach() if label.requires_grad else label).to(torch.int64)


def checked_labels(layer, label, rows, classes, ignore_label=None):
    """The integer labels as ``rows`` (outer, inner), 0 where ``ignore_label`` (None: none)
    masks them, and the mask of the others; a label of those outside ``[0, classes)`` fails
    ``layer`` (Caffe's DCHECKs)."""
    lab = int_labels(label).reshape(rows)
    valid = torch.ones_like(lab, dtype=torch.bool) if ignore_label is None else \
        lab != ignore_label
    bad = valid & ((lab < 0) | (lab >= classes))
    if bool(bad.any()):
        ignorable = "" if ignore_label is None else " (or equal ignore_label)"
        layer.fail(f"label values must lie in [0, {classes}){ignorable}, got "
                   f"{sorted(set(lab[bad].tolist()))}")
    return torch.where(valid, lab, torch.zeros_like(lab)), valid


class LossLayer(Layer):
    """Caffe's LossLayer: two bottoms whose first dimensions agree, a 0-d loss top."""

    exact_bottoms = 2
    exact_tops = 1
    is_loss = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.check_first_dims(self.bottom_shapes)

    def check_first_dims(self, shapes):
        a, b = shapes[0], shapes[1]
        if len(a) < 1 or len(b) < 1:
            self.fail(f"both inputs need at least one axis, got shapes {a} and {b}")
        if a[0] != b[0]:
            self.fail(f"the data and label must have the same first dimension, got {a} and {b}")

    def top_shapes(self, bottom_shapes):
        self.check_first_dims(bottom_shapes)
        return [()]

    def axis_tops(self, data, label):
        """The tops of a loss over ``self.axis`` of predictions of shape ``data``: the loss and,
        with a second top, the probabilities (``data``'s shape); a label count other than
        ``count(0, axis) * count(axis + 1)`` fails."""
        outer, inner = count(data, 0, self.axis), count(data, self.axis + 1)
        if outer * inner != count(label):
            self.fail(f"the label count ({count(label)}, shape {tuple(label)}) must equal "
                      f"outer * inner = {outer} * {inner} for prediction shape {tuple(data)} "
                      f"and axis {self.axis}")
        return [()] + [tuple(data)] * (len(self.param.top) > 1)


__all__ = ["f32", "elementwise", "scaled_shifted", "NeuronLayer", "FormulaNeuronLayer",
           "NoBackwardLayer", "LossLayer", "caffe_sigmoid", "int_labels", "checked_labels"]
