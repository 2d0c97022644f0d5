"""Scale: ``y = x * s (+ b)`` with ``s`` the caffemodel's blob or the second bottom, broadcast
over the axes of ``x`` from ``axis``, and with ``bias_term`` the bias blob (the layer's last)
added after the product, as Caffe's ScaleLayer runs its BiasLayer: ONNX's Mul, then Add. The
placement, blob shapes and refusals from :mod:`caffe_compat.rules.scale`."""
from ...rules.scale import FIELDS, FILLERS, scale_rule
from ._common import aligned, blob_count, declare, param_blob, register

# learned blobs come from the caffemodel only (a missing blob goes to the torch path)
declare("lite", "Scale", "ScaleParameter", FIELDS, refuses=FILLERS)


@register("Scale")
def scale(g, lp, bottoms, blobs):
    x = bottoms[0]
    rule = scale_rule(lp, [b.shape for b in bottoms])
    blob_count(lp, blobs, len(rule.param_shapes()))
    if len(bottoms) == 2:
        s = bottoms[1]
        view = rule.scale_view(x.shape, s.shape)
        factor = aligned(g, s, view)
    else:
        view = rule.scale_view(x.shape, rule.learned)
        factor = g.constant(param_blob(lp, blobs, 0, rule.learned).reshape(view))
    y = g.op("Mul", [x, factor])
    if rule.bias_term:
        bias = param_blob(lp, blobs, len(rule.param_shapes()) - 1, rule.bias)
        y = g.op("Add", [y, g.constant(bias.reshape(rule.bias_view(x.shape)))])
    return [type(x)(y, x.shape)]
