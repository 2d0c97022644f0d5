"""InnerProduct: ONNX's Gemm on the rows, with reshapes around it; the parameters, weight
layout and top shape from :mod:`caffe_compat.rules.inner_product`."""
import math

from ...rules import inner_product as ip_rule
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.inner_product import inner_product_rule
from ._common import blob_count, param_blob, register

# weights come from the caffemodel only (a missing blob, which a filler would fill, goes to
# the torch path)
declare("lite", "InnerProduct", "InnerProductParameter", ip_rule.FIELDS,
        refuses=ip_rule.FILLERS, no_effect=ENGINE_FIELD)


@register("InnerProduct")
def inner_product(g, lp, bottoms, blobs):
    x, = bottoms
    rule = inner_product_rule(lp, [x.shape])
    rows, k, n_out = math.prod(x.shape[:rule.axis]), rule.k, rule.num_output
    blob_count(lp, blobs, 2 if rule.bias_term else 1)
    inputs = [g.reshape(g.name(x), [rows, k], like=x.shape) if x.shape != (rows, k) else x,
              g.constant(param_blob(lp, blobs, 0, rule.weight_shape()))]
    if rule.bias_term:
        inputs.append(g.constant(param_blob(lp, blobs, 1, (n_out,))))
    y = g.op("Gemm", inputs, {"transB": 0 if rule.transpose else 1})
    shape = rule.top_shape(x.shape)
    if shape != (rows, n_out):
        y = g.reshape(y, list(shape))
    return [type(x)(y, shape)]
