"""Softmax over Caffe's ``axis`` (default 1; negative counts from the end): ONNX Softmax-13,
which normalises along that one axis as Caffe's SoftmaxLayer does (the maximum subtracted,
exponentials over their sum)."""
from ...rules import softmax as softmax_rule_module
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.softmax import softmax_axis
from ._common import register

declare("lite", "Softmax", "SoftmaxParameter", softmax_rule_module.FIELDS, no_effect=ENGINE_FIELD)


def _lengths_free(lp, shapes):
    softmax_axis(lp, shapes[0])
    return [shapes[0]], None


@register("Softmax", lengths_free=_lengths_free)
def softmax(g, lp, bottoms, blobs):
    x, = bottoms
    axis = softmax_axis(lp, x.shape)
    return [type(x)(g.op("Softmax", [x], {"axis": axis}), x.shape)]
