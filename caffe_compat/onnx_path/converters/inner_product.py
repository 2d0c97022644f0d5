"""InnerProduct: ONNX's Gemm on the rows (``axis: 1``: the input joined to (N, K), the batch
copied), or for a later axis a MatMul of the input joined from that axis on, its leading axes
kept; no length of the batch axis is written. The parameters, weight layout and top shape from
:mod:`caffe_compat.rules.inner_product`."""
import math

import numpy as np

from ...rules.inner_product import FIELDS, FILLERS, inner_product_rule
from ._common import ENGINE_FIELD, blob_count, declare, param_blob, register

# weights come from the caffemodel only (a missing blob, which a filler would fill, goes to
# the torch path)
declare("lite", "InnerProduct", "InnerProductParameter", FIELDS,
        refuses=FILLERS, no_effect=ENGINE_FIELD)


def _lengths_free(lp, shapes, rule=None):
    """The nodes read the inner length K (the reshape's). ``rule``: the layer's
    :func:`inner_product_rule` record for a first bottom of this axis and K (made here where
    not given)."""
    if rule is None:
        rule = inner_product_rule(lp, shapes)
    return [rule.top_shape(shapes[0])], rule.k


@register("InnerProduct", lengths_free=_lengths_free, rule=inner_product_rule)
def inner_product(g, lp, bottoms, blobs):
    x, = bottoms
    rule = inner_product_rule(lp, [x.shape])
    rows, k, n_out = math.prod(x.shape[:rule.axis]), rule.k, rule.num_output
    blob_count(lp, blobs, 2 if rule.bias_term else 1)
    weight = param_blob(lp, blobs, 0, rule.weight_shape())
    shape = rule.top_shape(x.shape)
    if rule.axis > 1:
        # the leading axes kept (copied, 0: no length written), the rest joined, then a
        # product with the (K, N) weights and the bias: the top's shape without a reshape
        flat = g.op("Reshape", [x, g.const([0] * rule.axis + [k])])
        y = g.op("MatMul", [flat, g.constant(weight if rule.transpose
                                             else np.ascontiguousarray(weight.T))])
        if rule.bias_term:
            y = g.op("Add", [y, g.constant(param_blob(lp, blobs, 1, (n_out,)))])
        return [type(x)(y, shape)]
    inputs = [g.reshape(g.name(x), [rows, k], like=x.shape) if x.shape != (rows, k) else x,
              g.constant(weight)]
    if rule.bias_term:
        inputs.append(g.constant(param_blob(lp, blobs, 1, (n_out,))))
    y = g.op("Gemm", inputs, {"transB": 0 if rule.transpose else 1})
    if shape != (rows, n_out):
        y = g.reshape(y, list(shape))
    return [type(x)(y, shape)]
