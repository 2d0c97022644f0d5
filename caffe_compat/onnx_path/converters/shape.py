"""Layers that move data without arithmetic, as ONNX nodes (each rule in the module of its type
under :mod:`caffe_compat.rules`):

* Reshape: Caffe's ReshapeLayer. ``shape`` replaces the input axes ``[axis, axis + num_axes)``
  (``axis`` default 0, negative from the end; ``num_axes`` -1: to the last axis); a 0 copies
  the input's dimension at that position, one -1 takes what the count leaves; the count must
  not change. In an export's graph (``batch_free``) the target is Caffe's own (its 0s copy, as
  ONNX's do; the input's other axes written, the batch's inferred where it falls in them).
* Flatten: a Reshape to the rule's shape (constants stay constants); in an export's graph the
  axes before ``axis`` are copied (0) and the merged axis is inferred (-1) where it holds the
  batch.
* ShuffleChannel: the channels as (group, C / group), transposed (ONNX's Reshape, Transpose,
  Reshape; an export's graph copies the batch length with 0).
* Concat: ONNX's Concat along its axis; constant inputs (PriorBox outputs) give a constant.
* Slice: one ONNX Slice node per top along the slice axis (the axis, the parts and the
  refusals from the rule); a constant bottom gives constant tops.
* Crop: Caffe's CropLayer. The first bottom cut to the second's size on the axes from ``axis``
  (default 2, negative from the end) on, starting at ``offset`` (none: 0; one value: every
  cropped axis; else one per cropped axis); axes before ``axis`` are kept; the window must
  fit. ONNX's Slice over the axes that change.
* Permute (SSD): the axes in ``order``, then the axes it leaves out in their order (each axis
  once); ONNX's Transpose.
* Tile: ONNX's Tile, ``tiles`` copies along ``axis`` (the block of the axes from it on repeated
  whole, as Caffe's TileLayer).
* Interp: the crop as a Slice, then ONNX's Resize, linear with ``align_corners``, to the rule's
  size; the batch and channel lengths copied from the input (Shape), so no batch length is
  written.
"""
import numpy as np

from ...rules import concat as concat_rules, crop as crop_rules, flatten as flatten_rules
from ...rules import interp as interp_rules, permute as permute_rules
from ...rules import reshape as reshape_rules, shuffle_channel as shuffle_rules
from ...rules import slice as slice_rules, tile as tile_rules
from ._common import Unsupported, declare, register

for _type, _rules in (("Reshape", reshape_rules), ("Flatten", flatten_rules),
                      ("ShuffleChannel", shuffle_rules), ("Concat", concat_rules),
                      ("Slice", slice_rules), ("Crop", crop_rules), ("Permute", permute_rules),
                      ("Tile", tile_rules), ("Interp", interp_rules)):
    declare("lite", _type, f"{_type}Parameter", _rules.FIELDS)


def reshaped(g, x, shape, free=None):
    """``x`` viewed with ``shape`` (a constant stays one); ``free``: the target written instead
    in an export's graph (the batch length copied with 0 or inferred with -1; written even
    where ``shape`` is the input's, which another batch length may not keep)."""
    shape = tuple(int(d) for d in shape)
    if shape == x.shape and (x.const is not None or not g.batch_free):
        return x
    if x.const is not None:
        return g.constant(x.const.reshape(shape))
    if g.batch_free:
        return type(x)(g.op("Reshape", [x, g.const(np.array(free, np.int64))]), shape)
    return type(x)(g.reshape(g.name(x), list(shape)), shape)


@register("Reshape")
def reshape(g, lp, bottoms, blobs):
    x, = bottoms
    rule = reshape_rules.reshape_rule(lp, [x.shape])
    start, end = rule.span(len(x.shape))
    tail = list(x.shape[end:])
    if end == 0 and tail and -1 not in rule.dims:     # the batch is in the untouched tail
        tail[0] = -1
    return [reshaped(g, x, rule.top_shape(x.shape), [0] * start + list(rule.dims) + tail)]


@register("Flatten")
def flatten(g, lp, bottoms, blobs):
    x, = bottoms
    rule = flatten_rules.flatten_rule(lp, [x.shape])
    top = rule.top_shape(x.shape)
    start = rule.start
    free = [0] * start + [-1 if start == 0 else top[start]] + list(x.shape[rule.end + 1:])
    return [reshaped(g, x, top, free)]


@register("ShuffleChannel")
def shuffle_channel(g, lp, bottoms, blobs):
    x, = bottoms
    rule = shuffle_rules.shuffle_channel_rule(lp, [x.shape])
    grouped = rule.grouped(x.shape)
    grouped = reshaped(g, x, grouped, (0,) + grouped[1:])
    perm = [0, 2, 1] + list(range(3, len(grouped.shape)))
    shape = tuple(grouped.shape[a] for a in perm)
    swapped = type(x)(g.op("Transpose", [grouped], {"perm": perm}), shape)
    return [reshaped(g, swapped, x.shape, (0,) + x.shape[1:])]


@register("Concat")
def concat(g, lp, bottoms, blobs):
    shapes = [b.shape for b in bottoms]
    rule = concat_rules.concat_rule(lp, shapes)
    axis, shape = rule.axis, rule.top_shape(shapes)
    if all(b.const is not None for b in bottoms):
        return [g.constant(np.concatenate([b.const for b in bottoms], axis=axis))]
    if len(bottoms) == 1:
        return [bottoms[0]]
    return [type(bottoms[0])(g.op("Concat", bottoms, {"axis": axis}), shape)]


@register("Slice")
def slice_(g, lp, bottoms, blobs):
    x, = bottoms
    rule = slice_rules.slice_rule(lp, [x.shape])
    shapes = rule.top_shapes(x.shape)
    bounds = rule.offsets(x.shape[rule.axis])
    if len(bounds) == 1:
        return [x]
    if x.const is not None:
        lead = (slice(None),) * rule.axis
        return [g.constant(x.const[lead + (slice(lo, hi),)]) for lo, hi in bounds]
    axes = g.const([rule.axis], "axes")
    return [type(x)(g.op("Slice", [x, g.const([lo], "starts"), g.const([hi], "ends"), axes]),
                    shape) for (lo, hi), shape in zip(bounds, shapes)]


@register("Crop")
def crop(g, lp, bottoms, blobs):
    x, ref = bottoms
    n = len(x.shape)
    if len(ref.shape) != n:
        raise Unsupported(f"layer '{lp.name}': {n}-D and {len(ref.shape)}-D bottoms")
    rule = crop_rules.crop_rule(lp, [x.shape, ref.shape])
    starts, shape = rule.starts, rule.shape
    axes = [a for a in range(n) if starts[a] or shape[a] != x.shape[a]]
    if not axes:
        return [x]
    name = g.op("Slice", [x, g.const([starts[a] for a in axes]),
                          g.const([starts[a] + shape[a] for a in axes]), g.const(axes)])
    return [type(x)(name, shape)]


@register("Permute")
def permute(g, lp, bottoms, blobs):
    x, = bottoms
    rule = permute_rules.permute_rule(lp, [x.shape])
    if rule.identity:
        return [x]
    order = list(rule.order)
    if x.const is not None:
        return [g.constant(np.transpose(x.const, order))]
    return [type(x)(g.op("Transpose", [x], {"perm": order}), rule.top_shape(x.shape))]


@register("Tile")
def tile(g, lp, bottoms, blobs):
    x, = bottoms
    rule = tile_rules.tile_rule(lp, [x.shape])
    repeats = np.ones(len(x.shape), np.int64)
    repeats[rule.axis] = rule.tiles
    return [type(x)(g.op("Tile", [x, g.const(repeats)]), rule.top_shape(x.shape))]


@register("Interp")
def interp(g, lp, bottoms, blobs):
    shapes = [b.shape for b in bottoms]
    rule = interp_rules.interp_rule(lp, shapes)
    top = rule.top_shape(shapes)
    x = bottoms[0]
    first, h, w = rule.cropped(x.shape)
    source = g.name(x)
    if (first, h, w) != (0, x.shape[2], x.shape[3]):
        source = g.op("Slice", [source, g.const([first, first]), g.const([first + h, first + w]),
                                g.const([2, 3])])
    lengths = g.op("Slice", [g.op("Shape", [source]), g.const([0]), g.const([2])])
    sizes = g.op("Concat", [lengths, g.const(list(top[2:]))], {"axis": 0})
    out = g.op("Resize", [source, "", "", sizes],
               {"mode": "linear", "coordinate_transformation_mode": "align_corners"})
    return [type(x)(out, top)]
