"""Softmax over Caffe's ``axis`` (default 1; negative counts from the end): ONNX Softmax-13,
which normalises along that one axis as Caffe's SoftmaxLayer does (the maximum subtracted,
exponentials over their sum)."""
from ...rules.softmax import FIELDS, softmax_axis
from ._common import ENGINE_FIELD, declare, elementwise

declare("lite", "Softmax", "SoftmaxParameter", FIELDS, no_effect=ENGINE_FIELD)


def _lengths_free(lp, shapes):
    softmax_axis(lp, shapes[0])
    return [shapes[0]], None


@elementwise("Softmax", lengths_free=_lengths_free)
def softmax(g, lp, x, blobs):
    return g.op("Softmax", [x], {"axis": softmax_axis(lp, x.shape)})
