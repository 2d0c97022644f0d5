"""Eltwise, Scale, Bias, Axpy and Softmax as ONNX nodes (each rule in the module of its type
under :mod:`caffe_compat.rules`).

Eltwise: Caffe's EltwiseLayer over bottoms of one shape. PROD multiplies in bottom order, MAX
takes the maximum (equal values are equal whichever bottom wins), SUM adds ``coeff[i] *
bottom[i]`` in bottom order as Caffe's axpy loop does.

Scale: ``y = x * s (+ b)`` with ``s`` the caffemodel's blob or the second bottom, broadcast
over the axes of ``x`` from ``axis``, and with ``bias_term`` the bias blob (the layer's last)
added after the product, as Caffe's ScaleLayer runs its BiasLayer: ONNX's Mul, then Add. Bias:
``y = x + b`` with ``b`` the caffemodel's blob or the second bottom, broadcast the same way:
one ONNX Add. Axpy: ``a`` aligned to X (its lengths copied, trailing ones added:
:func:`._common.aligned`), then Mul and Add; no length is written.

Softmax over Caffe's ``axis`` (default 1; negative counts from the end): ONNX Softmax-13,
which normalises along that one axis as Caffe's SoftmaxLayer does (the maximum subtracted,
exponentials over their sum).
"""
import numpy as np

from ...rules.axpy import axpy_top_shape
from ...rules.bias import FIELDS as BIAS_FIELDS, FILLERS as BIAS_FILLERS, bias_rule
from ...rules.eltwise import FIELDS as ELTWISE_FIELDS, MAX, PROD, eltwise_rule
from ...rules.scale import FIELDS as SCALE_FIELDS, FILLERS as SCALE_FILLERS, scale_rule
from ...rules.softmax import FIELDS as SOFTMAX_FIELDS, softmax_axis
from ._common import (ENGINE_FIELD, F32, aligned, blob_count, declare, elementwise,
                      param_blob, register)

# stable_prod_grad changes only the gradient
declare("lite", "Eltwise", "EltwiseParameter", ELTWISE_FIELDS - {"stable_prod_grad"},
        no_effect={"stable_prod_grad": "it changes PROD's gradient only; a forward "
                   "engine computes none"})
# learned blobs come from the caffemodel only (a missing blob goes to the torch path)
declare("lite", "Scale", "ScaleParameter", SCALE_FIELDS, refuses=SCALE_FILLERS)
declare("lite", "Bias", "BiasParameter", BIAS_FIELDS, refuses=BIAS_FILLERS)
declare("lite", "Softmax", "SoftmaxParameter", SOFTMAX_FIELDS, no_effect=ENGINE_FIELD)


@register("Eltwise")
def eltwise(g, lp, bottoms, blobs):
    rule = eltwise_rule(lp, [b.shape for b in bottoms])
    shape = bottoms[0].shape
    if rule.operation == PROD:
        y = g.op("Mul", bottoms[:2])
        for b in bottoms[2:]:
            y = g.op("Mul", [y, b])
    elif rule.operation == MAX:
        y = g.op("Max", bottoms)
    else:
        terms = [g.name(b) if c == 1.0 else g.op("Mul", [b, g.const(np.array(c, F32))])
                 for c, b in zip(rule.coeffs, bottoms)]
        y = terms[0]
        for t in terms[1:]:
            y = g.op("Add", [y, t])
    return [type(bottoms[0])(y, shape)]


def _operand(g, lp, bottoms, blobs, view, learned):
    """The second bottom aligned to ``view(x shape, its shape)``, or else the caffemodel's
    blob 0 (of shape ``learned``) as a constant of that view."""
    x = bottoms[0]
    if len(bottoms) == 2:
        return aligned(g, bottoms[1], view(x.shape, bottoms[1].shape))
    shape = view(x.shape, learned)
    return g.constant(param_blob(lp, blobs, 0, learned).reshape(shape))


@register("Scale")
def scale(g, lp, bottoms, blobs):
    x = bottoms[0]
    rule = scale_rule(lp, [b.shape for b in bottoms])
    blob_count(lp, blobs, len(rule.param_shapes()))
    y = g.op("Mul", [x, _operand(g, lp, bottoms, blobs, rule.scale_view, rule.learned)])
    if rule.bias_term:
        bias = param_blob(lp, blobs, len(rule.param_shapes()) - 1, rule.bias)
        y = g.op("Add", [y, g.constant(bias.reshape(rule.bias_view(x.shape)))])
    return [type(x)(y, x.shape)]


@register("Bias")
def bias(g, lp, bottoms, blobs):
    x = bottoms[0]
    rule = bias_rule(lp, [b.shape for b in bottoms])
    blob_count(lp, blobs, 0 if len(bottoms) == 2 else 1)
    operand = _operand(g, lp, bottoms, blobs, rule.view, rule.learned)
    return [type(x)(g.op("Add", [x, operand]), x.shape)]


@register("Axpy")
def axpy(g, lp, bottoms, blobs):
    a, x, y = bottoms
    top = axpy_top_shape(lp, [b.shape for b in bottoms])
    view = tuple(a.shape[:2]) + (1,) * (len(x.shape) - 2)
    scale = aligned(g, a, view)
    return [type(x)(g.op("Add", [g.op("Mul", [scale, x]), y]), top)]


def _softmax_lengths_free(lp, shapes):
    softmax_axis(lp, shapes[0])
    return [shapes[0]], None


@elementwise("Softmax", lengths_free=_softmax_lengths_free)
def softmax(g, lp, x, blobs):
    return g.op("Softmax", [x], {"axis": softmax_axis(lp, x.shape)})
