"""Layers that move data without arithmetic: Split, Flatten, Reshape, ShuffleChannel,
BatchReindex, Embed and PriorBox (Concat, Slice, Permute, Crop, Tile, ArgMax, Interp and
Parameter: :mod:`.shared`).

Shapes keep the batch free: ``Reshape`` targets copy the leading axes (0) and let the axis that
holds the batch be inferred (-1), as Caffe's own Reshape/Flatten rules would give for another
batch size. PriorBox depends only on the feature map's and the image's sizes, which the export
fixes: its output is a constant (our layer's priors for those sizes).
"""
import numpy as np

from ...rules import flatten as flatten_rules
from ...rules import reshape as reshape_rules
from ...rules import shuffle_channel as shuffle_rules
from ...rules.fields import declare
from ...rules.flatten import flatten_rule
from ..fields import PRIOR_BOX, PRIOR_BOX_NO_EFFECT, fillers
from ..registry import register_converter

for _type, _rules in (("Reshape", reshape_rules), ("ShuffleChannel", shuffle_rules)):
    declare("onnx", _type, f"{_type}Parameter", _rules.FIELDS)
declare("onnx", "Flatten", "FlattenParameter", flatten_rules.FIELDS)
declare("onnx", "Embed", "EmbedParameter", {"num_output", "input_dim", "bias_term"},
        no_effect=fillers("EmbedParameter"))
declare("onnx", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", PRIOR_BOX,
        no_effect=PRIOR_BOX_NO_EFFECT)


@register_converter("Split")
def split(ctx):
    return [ctx.bottoms[0]] * len(ctx.node.tops)


@register_converter("Flatten")
def flatten(ctx):
    shape = ctx.bottom_shapes[0]
    out = ctx.top_shapes[0]
    rule = flatten_rule(ctx.param, [shape])
    start, end = rule.start, rule.end
    if end + 1 == start:                       # Caffe inserts an axis of size 1 at ``start``
        target = [0] * start + [1] + ([-1] + list(shape[1:]) if start == 0
                                      else list(shape[start:]))
    else:
        target = [0] * start + ([-1] if start == 0 else [int(out[start])]) + list(shape[end + 1:])
    return ctx.op("Reshape", [ctx.bottoms[0], ctx.ints(target)])


@register_converter("Reshape")
def reshape(ctx):
    shape = ctx.bottom_shapes[0]
    start, end = ctx.module.rule.span(len(shape))
    dims = list(ctx.module.dims)
    tail = list(shape[end:])
    if end == 0 and tail and -1 not in dims:      # the batch ends up in the untouched tail
        tail[0] = -1
    # ONNX's 0 copies the input axis at the same position, as Caffe's 0 does (axis + i)
    target = [0] * start + dims + tail
    return ctx.op("Reshape", [ctx.bottoms[0], ctx.ints(target)])


@register_converter("ShuffleChannel")
def shuffle_channel(ctx):
    shape = ctx.bottom_shapes[0]
    g = ctx.module.group
    rest = list(shape[2:])
    x = ctx.op("Reshape", [ctx.bottoms[0], ctx.ints([0, g, shape[1] // g] + rest)])
    x = ctx.op("Transpose", [x], perm=[0, 2, 1] + list(range(3, 3 + len(rest))))
    return ctx.op("Reshape", [x, ctx.ints([0, shape[1]] + rest)])


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


@register_converter("PriorBox", "PriorBoxClustered")
def prior_box(ctx):
    feat, image = ctx.bottom_shapes[:2]
    priors = ctx.module.priors(tuple(feat[2:]), tuple(image[2:]))
    return ctx.const(np.asarray(priors, np.float32)[None], "priors")
