"""BatchReindex and Embed (the other layers that move data without arithmetic: :mod:`.shared`):
``Gather`` of the rows their index bottom names, the indices cast to integers toward zero as
Caffe's ``static_cast<int>``."""
from ...rules.fields import declare
from ..fields import fillers
from ..registry import register_converter

declare("onnx", "Embed", "EmbedParameter", {"num_output", "input_dim", "bias_term"},
        no_effect=fillers("EmbedParameter"))


@register_converter("BatchReindex")
def batch_reindex(ctx):
    idx = ctx.op("Cast", [ctx.bottoms[1]], to=7)
    return ctx.op("Gather", [ctx.bottoms[0], idx], axis=0)


@register_converter("Embed")
def embed(ctx):
    m = ctx.module
    idx = ctx.op("Cast", [ctx.bottoms[0]], to=7)       # static_cast<int>: toward zero
    y = ctx.op("Gather", [ctx.blob(m.weight, "weight"), idx], axis=0)
    return ctx.op("Add", [y, ctx.blob(m.bias, "bias")]) if m.bias_term else y
