"""Parameter (:mod:`caffe_compat.rules.parameter`): its blob from the caffemodel, a constant
(a missing blob, which Caffe leaves at zeros, goes to the torch path)."""
from ...rules.parameter import FIELDS, parameter_shape
from ._common import blob_count, declare, param_blob, register

declare("lite", "Parameter", "ParameterParameter", FIELDS)


@register("Parameter")
def parameter(g, lp, bottoms, blobs):
    shape = parameter_shape(lp)
    blob_count(lp, blobs, 1)
    return [g.constant(param_blob(lp, blobs, 0, shape))]
