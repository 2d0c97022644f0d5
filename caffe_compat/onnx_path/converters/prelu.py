"""PReLU: ONNX's PRelu with the slopes (the caffemodel's blob) broadcast over axis 1, one per
channel, or one value (``channel_shared``); the parameters and refusals from
:mod:`caffe_compat.rules.prelu`. PRelu computes ``x`` for ``x > 0`` and ``a x`` otherwise, the
values of Caffe's ``max(x, 0) + a min(x, 0)``."""
from ...rules.prelu import FIELDS, FILLERS, prelu_rule
from ._common import blob_count, declare, elementwise, param_blob

# slopes come from the caffemodel only (a missing blob, which the filler would fill, goes to
# the torch path)
declare("lite", "PReLU", "PReLUParameter", FIELDS, refuses=FILLERS)


def _lengths_free(lp, shapes, rule=None):
    """The top is the bottom's shape (:func:`prelu_rule`'s ``rule``, made here where not
    given, checks it)."""
    if rule is None:
        rule = prelu_rule(lp, shapes)
    return [rule.top_shape(shapes[0])], None


@elementwise("PReLU", lengths_free=_lengths_free, rule=prelu_rule)
def prelu(g, lp, x, blobs):
    rule = prelu_rule(lp, [x.shape])
    blob_count(lp, blobs, 1)
    slopes = param_blob(lp, blobs, 0, rule.slope_shape())
    if not rule.channel_shared:
        slopes = slopes.reshape((rule.channels,) + (1,) * (len(x.shape) - 2))
    else:
        slopes = slopes.reshape((1,))
    return g.op("PRelu", [x, g.constant(slopes)])
