"""Layers that move data without arithmetic: Split, Concat, Slice, Flatten, Reshape, Crop,
Permute, BatchReindex, Filter; and Interp (a bilinear resize to a size fixed by the deploy
geometry).

The generated code keeps the deploy file's geometry except for the batch axis (as the ONNX
export): Slice's points, Crop's windows and Reshape's dimensions are the ones the built net
computed, written as numbers; the batch axis is copied from the input (``x.shape[0]``) or
inferred, never written.

BatchReindex: ``top[i] = bottom[bottom_1[i]]`` along axis 0, the indices truncated toward zero
(Caffe's ``static_cast<int>``); the gradient accumulates over repeated indices (autograd of
``index_select``), the index bottom gets none. Filter: the items (axis 0) of every bottom but
the last whose selector (the last bottom) is non-zero, in their order (NaN keeps its item, as
C++'s truth test); the number of items kept varies with the data, as in Caffe. The kept items
get their top's gradient, the others 0, the selector none.
"""
from ..codegen import literal
from ....rules import slice as slice_rules
from ....rules import crop as crop_rules, permute as permute_rules
from ....rules import concat as concat_rules, flatten as flatten_rules
from ....rules import interp as interp_rules
from ....rules import reshape as reshape_rules
from ....rules.fields import declare
from ....rules.flatten import flatten_rule
from ..registry import register_emitter

declare("pytorch-source", "Slice", "SliceParameter", slice_rules.FIELDS)
declare("pytorch-source", "Reshape", "ReshapeParameter", reshape_rules.FIELDS)
declare("pytorch-source", "Crop", "CropParameter", crop_rules.FIELDS)
declare("pytorch-source", "Permute", "PermuteParameter", permute_rules.FIELDS)
declare("pytorch-source", "Concat", "ConcatParameter", concat_rules.FIELDS)
declare("pytorch-source", "Flatten", "FlattenParameter", flatten_rules.FIELDS)
declare("pytorch-source", "Interp", "InterpParameter", interp_rules.FIELDS)


@register_emitter("Split")
def split(e):
    return [e.bottoms[0]] * len(e.node.tops)


@register_emitter("Concat")
def concat(e):
    if len(e.bottoms) == 1:
        return e.bottoms[0]
    return f"torch.cat([{', '.join(e.bottoms)}], {e.module.axis})"


@register_emitter("Slice")
def slice_(e):
    m = e.module
    sizes = m.rule.sizes(e.bottom_shapes[0][m.axis])
    if len(sizes) == 1:
        return [e.bottoms[0]]
    return f"torch.split({e.bottoms[0]}, {literal(list(sizes))}, {m.axis})"


@register_emitter("Flatten")
def flatten(e):
    shape = e.bottom_shapes[0]
    rule = flatten_rule(e.param, [shape])
    start, end = rule.start, rule.end
    if end + 1 == start:            # Caffe inserts an axis of size 1 at ``start``
        return f"{e.bottoms[0]}.unsqueeze({start})"
    if end == len(shape) - 1:
        return f"torch.flatten({e.bottoms[0]}, {start})"
    return f"torch.flatten({e.bottoms[0]}, {start}, {end})"


@register_emitter("Reshape")
def reshape(e):
    shape = e.bottom_shapes[0]
    x = e.bottoms[0]
    start, end = e.module.rule.span(len(shape))
    dims = []
    for i, d in enumerate(e.module.dims):
        dims.append(str(shape[start + i]) if d == 0 else str(d))   # Caffe's 0 copies
    target = [str(d) for d in shape[:start]] + dims + [str(d) for d in shape[end:]]
    if start > 0 or (e.module.dims and e.module.dims[0] == 0):
        target[0] = f"{x}.shape[0]"            # the batch axis, copied
    elif end == 0 and "-1" not in target:
        target[len(dims)] = "-1"               # the batch axis in the untouched tail
    return f"{x}.reshape({', '.join(target)})"


@register_emitter("Crop")
def crop(e):
    starts, sizes = e.module._window(e.bottom_shapes[0], e.bottom_shapes[1])
    shape = e.bottom_shapes[0]
    axes = [i for i in range(len(shape)) if starts[i] != 0 or sizes[i] != shape[i]]
    if not axes:
        return e.bottoms[0]
    index = [":"] * (max(axes) + 1)
    for i in axes:
        index[i] = f"{starts[i]}:{starts[i] + sizes[i]}"
    return f"{e.bottoms[0]}[{', '.join(index)}]"


@register_emitter("Permute")
def permute(e):
    order = [int(a) for a in e.module.order]
    if order == sorted(order):
        return e.bottoms[0]
    return f"{e.bottoms[0]}.permute({literal(tuple(order))})"


@register_emitter("Interp")
def interp(e):
    """The fork's Interp: crop by pad_beg/pad_end, then ``F.interpolate`` bilinear with aligned
    corners to the size the built net computed."""
    p = e.module.rule
    x = e.bottoms[0]
    if p.pad_beg or p.pad_end:
        h, w = e.bottom_shapes[0][2:]
        b = -p.pad_beg
        x = f"{x}[:, :, {b}:{h + p.pad_end}, {b}:{w + p.pad_end}]"
    size = literal(tuple(e.top_shapes[0][2:]))
    return f'F.interpolate({x}, size={size}, mode="bilinear", align_corners=True)'


@register_emitter("BatchReindex")
def batch_reindex(e):
    x, index = e.bottoms
    return f"torch.index_select({x}, 0, {index}.detach().to(torch.int64))"


@register_emitter("Filter")
def filter_(e):
    *data, selector = e.bottoms
    keep = e.temp(f"torch.nonzero({selector}.detach().reshape(-1) != 0).reshape(-1)",
                  f"{e.name}_keep")
    return [f"{b}.index_select(0, {keep})" for b in data]
