"""LRN across channels: ONNX's LRN, which is Caffe's formula for odd sizes (the parameters and
refusals from :mod:`caffe_compat.rules.lrn`). WITHIN_CHANNEL is the torch path's."""
from ...rules import lrn as lrn_rule_module
from ...rules.fields import ENGINE_FIELD, declare
from ...rules.lrn import ACROSS_CHANNELS, lrn_rule
from ._common import Unsupported, register

declare("lite", "LRN", "LRNParameter", lrn_rule_module.FIELDS - {"norm_region"},
        refuses={"norm_region"}, no_effect=ENGINE_FIELD)


@register("LRN")
def lrn(g, lp, bottoms, blobs):
    x, = bottoms
    rule = lrn_rule(lp, [x.shape])
    if rule.region != ACROSS_CHANNELS:
        raise Unsupported(f"layer '{lp.name}': norm_region {rule.region}")
    return [type(x)(g.op("LRN", [x], {"size": rule.size, "alpha": rule.alpha,
                                      "beta": rule.beta, "bias": rule.k}), x.shape)]
