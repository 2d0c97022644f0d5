"""Softmax over Caffe's ``axis`` (default 1; negative counts from the end): ONNX Softmax-13,
which normalises along that one axis as Caffe's SoftmaxLayer does (the maximum subtracted,
exponentials over their sum)."""
from ...rules.fields import ENGINE_FIELD, declare
from ._common import canonical_axis, register

declare("lite", "Softmax", "SoftmaxParameter", {"axis"}, no_effect=ENGINE_FIELD)


@register("Softmax")
def softmax(g, lp, bottoms, blobs):
    x, = bottoms
    axis = canonical_axis(int(lp.softmax_param.axis), len(x.shape), lp)
    return [type(x)(g.op("Softmax", [x], {"axis": axis}), x.shape)]
