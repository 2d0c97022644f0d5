"""Bias: ``y = x + b`` with ``b`` the caffemodel's blob or the second bottom, broadcast over
the axes of ``x`` from ``axis`` (the placement, shapes and refusals from
:mod:`caffe_compat.rules.bias`): one ONNX Add."""
from ...rules.bias import FIELDS, FILLERS, bias_rule
from ._common import aligned, blob_count, declare, param_blob, register

# a learned bias comes from the caffemodel only (a missing blob goes to the torch path)
declare("lite", "Bias", "BiasParameter", FIELDS, refuses=FILLERS)


@register("Bias")
def bias(g, lp, bottoms, blobs):
    x = bottoms[0]
    rule = bias_rule(lp, [b.shape for b in bottoms])
    if len(bottoms) == 2:
        blob_count(lp, blobs, 0)
        b = bottoms[1]
        view = rule.view(x.shape, b.shape)
        operand = aligned(g, b, view)
    else:
        blob_count(lp, blobs, 1)
        view = rule.view(x.shape, rule.learned)
        operand = g.constant(param_blob(lp, blobs, 0, rule.learned).reshape(view))
    return [type(x)(g.op("Add", [x, operand]), x.shape)]
