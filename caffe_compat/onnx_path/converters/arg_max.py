"""ArgMax (:mod:`caffe_compat.rules.arg_max`): ONNX's TopK over the reversed values, so that
among equal values the larger index comes first as in Caffe's ``partial_sort``; indices as
floats (exact below 2**24). Without ``axis`` each item is ranked flat (a Reshape copying the
batch), the indices and the values stacked on axis 1; no length of the batch axis is written."""
import numpy as np

from ...rules.arg_max import FIELDS, arg_max_rule
from ._common import FLOAT, declare, register

declare("lite", "ArgMax", "ArgMaxParameter", FIELDS)

_END = np.iinfo(np.int64).min          # a reversed Slice's end: before the first value


def _ranked(g, x, k, axis, length):
    """(values, indices as float32) of the ``k`` largest along ``axis``, ties to the larger
    index."""
    reversed_ = g.op("Slice", [x, g.const([-1]), g.const([_END]), g.const([axis]), g.const([-1])])
    values, index = g.op("TopK", [reversed_, g.const([k])],
                         {"axis": axis, "largest": 1, "sorted": 1}, outputs=2)
    index = g.op("Sub", [g.const(length - 1), index])
    return values, g.op("Cast", [index], {"to": FLOAT})


@register("ArgMax")
def arg_max(g, lp, bottoms, blobs):
    x, = bottoms
    rule = arg_max_rule(lp, [x.shape])
    top = rule.top_shape(x.shape)
    if rule.top_k > 1:
        # (measured with OpenVINO 2026.4: from about 30 values its TopK returns equal values
        # in another order than ONNX's lower index first)
        g.avoid("openvino", f"layer '{lp.name}': its TopK does not keep equal values in "
                "index order, so ties of top_k > 1 would differ from Caffe's")
    if rule.axis is not None:
        values, index = _ranked(g, x, rule.top_k, rule.axis, rule.length(x.shape))
        return [type(x)(values if rule.out_max_val else index, top)]
    flat = g.op("Reshape", [x, g.const([0, -1])])
    values, index = _ranked(g, flat, rule.top_k, 1, rule.length(x.shape))
    parts = [index] + ([values] if rule.out_max_val else [])
    one = g.const([1])
    parts = [g.op("Unsqueeze", [p, one]) for p in parts]
    out = g.op("Concat", parts, {"axis": 1}) if len(parts) > 1 else parts[0]
    shape = g.const((0,) + top[1:])
    return [type(x)(g.op("Reshape", [out, shape]), top)]
