"""SPP: each pyramid level is a Caffe Pooling of the built layer (its parameters), written by the
Pooling converter (:mod:`caffe_compat.lite.converters.pooling`, through :mod:`.shared`), in
the layer's phase; the levels flattened to ``(N, C * bins)`` and concatenated, or the one
level's output as it is (``pyramid_height: 1``)."""
from ...proto import caffe_pb2
from ...rules.fields import ENGINE_FIELD, declare
from ..registry import register_converter
from .shared import written

declare("onnx", "SPP", "SPPParameter", {"pyramid_height", "pool"}, no_effect=ENGINE_FIELD)


@register_converter("SPP")
def spp(ctx):
    outs = []
    for pool in ctx.module._pools(tuple(ctx.bottom_shapes[0])):
        level = caffe_pb2.LayerParameter()
        level.CopyFrom(pool.param)
        level.phase = ctx.param.phase
        outs.append(written(ctx, "Pooling", level)[0])
    if len(outs) == 1:
        return outs[0]
    return ctx.op("Concat", [ctx.op("Flatten", [o], axis=1) for o in outs], axis=1)
