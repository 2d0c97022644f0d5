"""Caffe's element-wise ("neuron") layers without parameters: Sigmoid, TanH, AbsVal, BNLL
(NeuronLayer: one bottom, one top of its shape, in place allowed) and ReLU6 (OpenCV's, fixed
bounds 0 and 6), read by every engine.

Formulas as Caffe computes them in float32: Sigmoid ``0.5 tanh(0.5 x) + 0.5`` (backward
``dy y (1 - y)``), TanH ``tanh(x)`` (``dy (1 - y^2)``), AbsVal ``|x|`` (``dy sign(x)``, sign 0
at 0), BNLL ``x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x))`` (``dy e / (e + 1)`` with
``e = exp(min(x, 50))``), ReLU6 ``min(max(x, 0), 6)`` (``dy`` where ``0 <= x <= 6``).
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

# Caffe's kBNLL_THRESHOLD: BNLL's backward reads exp(min(x, 50))
BNLL_THRESHOLD = 50.0
RELU6_BOUNDS = (0.0, 6.0)
# SigmoidParameter and TanHParameter hold only ``engine`` (CAFFE and CUDNN agree)
FIELDS = frozenset()


class SameShape:
    """The records of the element-wise layers: Caffe's NeuronLayer::Reshape shapes the top as
    the bottom."""

    def top_shape(self, shape):
        return tuple(int(d) for d in shape)


def float_rule(name, section, field):
    """The rule function of an element-wise type whose one parameter is the float ``field`` of
    the layer's message ``section``: ``rule(layer, bottom_shapes=None)`` gives a record (class
    ``name``, top of the bottom's shape) of ``layer`` and ``field``."""
    record = frozen(type(name, (SameShape,), {"__annotations__": {"layer": object,
                                                                   field: float}}))

    def rule(layer, bottom_shapes=None):
        return record(layer, float(getattr(getattr(layer, section), field)))
    return rule


@frozen
class NeuronRule(SameShape):
    layer: object


def neuron_rule(layer, bottom_shapes=None):
    """The :class:`NeuronRule` of ``layer``: exactly one bottom and one top."""
    if bottom_shapes is not None and len(bottom_shapes) != 1:
        refuse(layer, f"takes exactly 1 bottom, got {len(bottom_shapes)}")
    return NeuronRule(layer)
