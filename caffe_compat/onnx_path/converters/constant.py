"""Layers whose top is a constant, known without running.

PriorBox: a constant computed for the input shapes, by the same numpy rule as the torch
layer (:class:`caffe_compat.rules.prior_box.PriorRule`: OpenCV 4's default boxes, normalised by
the image bottom's size; only the two bottoms' shapes are read). Output ``(1, 2, H * W * K *
4)``: the boxes, then the variances. The ``img_size`` fields, which the layer does not read
(as OpenCV), go to the torch path, which warns about them; an export's net (``batch_free``)
has warned when it was built.

Parameter (:mod:`caffe_compat.rules.parameter`): its blob from the caffemodel, a constant
(a missing blob, which Caffe leaves at zeros, goes to the torch path)."""
from ...rules.parameter import FIELDS as PARAMETER_FIELDS, parameter_shape
from ...rules.prior_box import FIELDS, IMG_SIZE, PriorRule
from ._common import Unsupported, blob_count, declare, fail, param_blob, register

declare("lite", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", FIELDS, refuses=IMG_SIZE)
declare("lite", "Parameter", "ParameterParameter", PARAMETER_FIELDS)


@register("PriorBox")
@register("PriorBoxClustered")
def prior_box(g, lp, bottoms, blobs):
    feature, image = bottoms
    if len(feature.shape) != 4 or len(image.shape) != 4:
        raise Unsupported(f"layer '{lp.name}': bottoms {feature.shape}, {image.shape}")
    rule = PriorRule(lp.prior_box_param, fail)
    if rule.img_size and not g.batch_free:
        raise Unsupported(f"layer '{lp.name}': img_size fields (the torch path warns)")
    return [g.constant(rule.compute(feature.shape[2:], image.shape[2:])[None])]


@register("Parameter")
def parameter(g, lp, bottoms, blobs):
    shape = parameter_shape(lp)
    blob_count(lp, blobs, 1)
    return [g.constant(param_blob(lp, blobs, 0, shape))]
