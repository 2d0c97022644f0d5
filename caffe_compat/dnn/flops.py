"""``Net.getFLOPS``: OpenCV 4's operation counts per layer type (each layer's ``getFLOPS``),
measured on one-layer nets with OpenCV 4.14 (tests/caffe_compat/dnn/test_dnn_api.py keeps
them). Each count is its types' entry in the ``opencv-flops`` cost table of
:mod:`caffe_compat.rules.registry` (the :func:`counts` decorator registers it). ``total(s, a)``
is the product of shape ``s`` from axis ``a``; ``karea`` the kernel's area; ``inputs`` /
``outputs`` the layer's shapes:

* Convolution: ``total(output) * (2 * karea * input channels + 1)`` (the channels of the
  whole input, whatever the group); Deconvolution: ``2 * weights.shape[0] * karea *
  total(input)``; InnerProduct: ``3 * weights.shape[1] * total(output)``;
* Pooling: ``total(output) * karea`` for MAX, ``* (karea + 1)`` otherwise (a global pooling
  counts a 1 x 1 kernel, as OpenCV before its first forward);
* per element of the output: ReLU, PReLU, TanH, AbsVal, Log 1; ReLU6, ELU 2; Sigmoid, Exp,
  Swish, Mish 3; BNLL 5; Power 2 (power 1) or 10; BatchNorm 3; Softmax 4; Eltwise the
  number of inputs; ROIPooling, PSROIPooling 2 (a pooling of another kind than MAX, of a
  1 x 1 kernel); Scale 2 per element of its inputs (a second input's too);
* LRN across channels: ``N * (min(k, C) * 2 * S + 4 * C * S) + (size + 2 * (C - size)) * S``
  with ``k = (size - 1) // 2``, ``S = total(input, 2)`` (the last term when ``k < C``); within
  a channel ``total(input) * (2 * size**2 + 2)``;
* MVN: ``6 * total(input) + 3 * total(input[:2 if normalize_variance else 1])``;
* PriorBox: ``4 * priors per cell * (total(input 0, 2) + total(input 1, 2))``;
* every other type (Concat, Crop, Slice, Flatten, Reshape, Permute, Normalize, Dropout, ...):
  0, as OpenCV's base ``Layer::getFLOPS``."""
from __future__ import annotations

import math

from ..rules import registry


# @counts(*type_names): fn(lp, inputs, outputs, weights) is OpenCV 4's count of a layer of
# each type (its entry in the registry's opencv-flops table)
counts = registry.registrar("opencv-flops", "OpenCV FLOP count")


def total(shape, start=0, end=None):
    return math.prod(shape[start:end])


def _karea(weights):
    return math.prod(weights[0][2:])


@counts("Convolution")
def _convolution(lp, inputs, outputs, weights):
    return sum(total(o) * (2 * _karea(weights) * inputs[0][1] + 1) for o in outputs)


@counts("Deconvolution")
def _deconvolution(lp, inputs, outputs, weights):
    return sum(2 * weights[0][0] * _karea(weights) * total(i) for i in inputs)


@counts("InnerProduct")
def _inner_product(lp, inputs, outputs, weights):
    return sum(3 * weights[0][1] * total(o) for o in outputs)


@counts("Pooling")
def _pooling(lp, inputs, outputs, weights):
    from ..rules.pooling import MAX, pooling_rule
    rule = pooling_rule(lp)
    karea = 1 if rule.global_pooling else math.prod(rule.kernel)
    per = karea if rule.method == MAX else karea + 1
    return sum(total(o) * per for o in outputs)


def _per_element(count, *type_names):
    @counts(*type_names)
    def flops(lp, inputs, outputs, weights):
        return sum(total(o) * count for o in outputs)
    return flops


_per_element(1, "ReLU", "PReLU", "TanH", "AbsVal", "Log")
_per_element(2, "ReLU6", "ELU", "ROIPooling", "PSROIPooling")
_per_element(3, "Sigmoid", "Exp", "Swish", "Mish", "BatchNorm")
_per_element(4, "Softmax")
_per_element(5, "BNLL")
counts("Scale")(lambda lp, inputs, outputs, weights: 2 * sum(map(total, inputs)))
counts("Eltwise")(lambda lp, inputs, outputs, weights: len(inputs) * sum(map(total, outputs)))


@counts("Power")
def _power(lp, inputs, outputs, weights):
    from ..rules.power import power_rule
    per = 2 if power_rule(lp).power == 1 else 10
    return sum(total(o) * per for o in outputs)


@counts("LRN")
def _lrn(lp, inputs, outputs, weights):
    from ..rules.lrn import ACROSS_CHANNELS, lrn_rule
    rule = lrn_rule(lp)
    size, out = rule.size, 0
    for s in inputs:
        if rule.region == ACROSS_CHANNELS:
            channels, k, spatial = s[1], (size - 1) // 2, total(s, 2)
            out += s[0] * (min(k, channels) * 2 * spatial + channels * 4 * spatial)
            if k < channels:
                out += (size + 2 * (channels - size)) * spatial
        else:
            out += total(s) * (2 * size ** 2 + 2)
    return out


@counts("MVN")
def _mvn(lp, inputs, outputs, weights):
    from ..rules.mvn import mvn_rule
    axes = 2 if mvn_rule(lp).normalize_variance else 1
    return sum(6 * total(s) + 3 * total(s, 0, axes) for s in inputs)


@counts("PriorBox")
def _prior_box(lp, inputs, outputs, weights):
    per_cell = outputs[0][2] // (total(inputs[0], 2) * 4)
    return sum(total(s, 2) * per_cell * 4 for s in inputs)


def layer_flops(layer_type, layer_param, inputs, outputs, weights):
    """OpenCV 4's count for one layer (0 for a type without one)."""
    count = registry.implementation("opencv-flops", layer_type)
    return int(count(layer_param, inputs, outputs, weights)) if count else 0
