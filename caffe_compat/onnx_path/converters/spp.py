"""SPP (Caffe's SPPLayer, :mod:`caffe_compat.rules.spp`): each pyramid level is its own Pooling
layer, written by the Pooling converter, flattened to (N, C bins); the levels concatenated on
axis 1 (one level: its pooling output as it is). What that converter refuses for a level
(STOCHASTIC) goes to the torch path."""
from ...rules.spp import FIELDS, spp_rule
from ._common import ENGINE_FIELD, converter, declare, register

declare("lite", "SPP", "SPPParameter", FIELDS - {"pool"}, refuses={"pool"}, no_effect=ENGINE_FIELD)


@register("SPP")
def spp(g, lp, bottoms, blobs):
    x, = bottoms
    rule = spp_rule(lp)
    pool = converter("Pooling")
    levels = [pool(g, level, [x], None)[0] for level, _ in rule.levels(x.shape)]
    if len(levels) == 1:
        return levels
    flat = [g.op("Flatten", [y], {"axis": 1}) for y in levels]
    return [type(x)(g.op("Concat", flat, {"axis": 1}), rule.top_shape(x.shape))]
