"""DetectionOutput (SSD) in ONNX operators, with OpenCV 4 dnn's rules (those of our layer):

1. location offsets ``(N, P, L, 4)`` decoded against the priors (constants when they come
   from PriorBox layers, whose output the exported geometry fixes), clipped with ``clip``;
2. per image and target class (background skipped): the ``nms_param.top_k`` best candidates
   (``TopK``), greedy NMS at ``nms_threshold`` over those above ``confidence_threshold``
   (0 when unset), at most ``keep_top_k`` per class (:mod:`._boxes`);
3. across classes the ``keep_top_k`` best kept detections (``TopK`` over class-major
   candidates: equal confidences in class order, then in NMS order, as our layer orders them;
   OpenCV's ``std::sort`` leaves that order unspecified);
4. rows ``[image, label, confidence, xmin, ymin, xmax, ymax]``, image by image, by confidence
   descending, gathered at the front of a ``(1, 1, keep_top_k * N, 7)`` output whose other rows
   are zero (OpenCV's layout); with ``keep_top_k: -1`` one row per detection.

The result equals our layer's (and OpenCV's) up to the last bit of ``exp`` in the decoding;
a box whose IoU with a kept one lies within that rounding of the threshold could be decided
the other way. ``nms_param.eta`` is ignored, as OpenCV ignores it.
"""
import numpy as np

from ...rules.fields import declare
from ...rules import detection_output as detection_rules
from ..registry import register_converter
from . import _boxes

declare("onnx", "DetectionOutput", "DetectionOutputParameter", detection_rules.FIELDS,
        no_effect=detection_rules.NO_EFFECT)

F32 = np.float32


@register_converter("DetectionOutput")
def detection_output(ctx):
    m = ctx.module
    loc, conf = ctx.bottoms[:2]
    p = m._check(ctx.bottom_shapes)
    prior = ctx.op("Reshape", [ctx.bottoms[2], ctx.ints([-1, p, 4], "prior_rows")])
    priors = ctx.op("Gather", [prior, ctx.const(np.int64(0), "row0")], axis=0)    # (P, 4)
    var = None if m.encoded else ctx.op("Gather", [prior, ctx.const(np.int64(1), "row1")],
                                        axis=0)
    targets = [c for c in range(m.num_classes) if c != m.background]
    nt = len(targets)
    boxes = ctx.op("Reshape", [loc, ctx.ints([0, p, m.num_loc, 4])])
    boxes = _boxes.decode(ctx, boxes, priors, var, m.code_type, m.normalized, 1)
    if m.clip:
        if m.normalized:
            bound = np.ones(4, F32)
        else:
            h, w = ctx.bottom_shapes[3][2:4]
            bound = np.array([w - 1, h - 1, w - 1, h - 1], F32)
        boxes = _boxes.clip(ctx, boxes, ctx.const(bound, "clip_bound"))
    boxes = ctx.op("Transpose", [boxes], perm=[0, 2, 1, 3])              # (N, L, P, 4)
    if m.share:
        shape = ctx.op("Concat", [ctx.shape_of(boxes, 0, 1), ctx.ints([nt, p, 4], "per_class")],
                       axis=0)
        boxes = ctx.op("Expand", [boxes, shape])                          # (N, C', P, 4)
    else:
        boxes = ctx.op("Gather", [boxes, ctx.ints(targets, "targets")], axis=1)
    scores = ctx.op("Reshape", [conf, ctx.ints([0, p, m.num_classes])])
    scores = ctx.op("Transpose", [scores], perm=[0, 2, 1])
    scores = ctx.op("Gather", [scores, ctx.ints(targets, "targets")], axis=1)  # (N, C', P)
    k = p if m.top_k <= 0 else min(m.top_k, p)
    values, idx = ctx.op("TopK", [scores, ctx.ints([k], "top_k")], outputs=["values", "idx"],
                         axis=-1, largest=1, sorted=1)                   # (N, C', K)
    idx4 = ctx.op("Expand", [ctx.op("Unsqueeze", [idx, ctx.ints([-1], "last")]),
                             ctx.ints([1, 1, 1, 4], "four")])
    cand = ctx.op("GatherElements", [boxes, idx4], axis=2)               # (N, C', K, 4)
    flat_values = ctx.op("Reshape", [values, ctx.ints([-1, k])])
    flat_boxes = ctx.op("Reshape", [cand, ctx.ints([-1, k, 4])])
    limit = m.keep_top_k if m.keep_top_k >= 0 else None
    selected = _boxes.ranked_nms(ctx, flat_values, flat_boxes, k, m.threshold,
                                 m.nms_threshold, limit, m.normalized)
    # kept[b * C' + c, rank] = 1 for every selected candidate
    where = ctx.op("Gather", [selected, ctx.ints([0, 2], "row_rank")], axis=1)
    ones = _filled(ctx, ctx.shape_of(where, 0, 1), 1.0)
    zeros = _filled(ctx, ctx.op("Shape", [flat_values]), 0.0)
    kept = ctx.op("ScatterND", [zeros, where, ones])                     # (N * C', K)
    kept = ctx.op("Reshape", [kept, ctx.ints([-1, nt * k], "per_image")])  # (N, C' * K)
    ranked = ctx.op("Reshape", [values, ctx.ints([-1, nt * k], "per_image")])
    is_kept = ctx.op("Greater", [kept, ctx.scalar(0.0, hint="zero")])
    masked = ctx.op("Where", [is_kept, ranked, ctx.scalar(-np.inf, hint="neg_inf")])
    k2 = nt * k if m.keep_top_k < 0 else min(m.keep_top_k, nt * k)
    best, pick = ctx.op("TopK", [masked, ctx.ints([k2], "keep_top_k")],
                        outputs=["best", "pick"], axis=-1, largest=1, sorted=1)  # (N, K2)
    valid = ctx.op("GatherElements", [kept, pick], axis=1)
    label = ctx.op("Gather", [ctx.const(np.asarray(targets, F32), "labels"),
                              ctx.op("Div", [pick, ctx.const(np.int64(k), "k")])])
    pick4 = ctx.op("Expand", [ctx.op("Unsqueeze", [pick, ctx.ints([-1], "last")]),
                              ctx.ints([1, 1, 4], "four3")])
    det_boxes = ctx.op("GatherElements", [ctx.op("Reshape", [cand, ctx.ints([-1, nt * k, 4])]),
                                          pick4], axis=1)                 # (N, K2, 4)
    image = ctx.op("Expand", [ctx.op("Cast", [_row_index(ctx, best)], to=1),
                              ctx.op("Shape", [best])])
    cols = [ctx.op("Unsqueeze", [v, ctx.ints([-1], "last")]) for v in (image, label, best)]
    rows = ctx.op("Concat", cols + [det_boxes], axis=-1)                  # (N, K2, 7)
    rows = ctx.op("Where", [ctx.op("Unsqueeze", [ctx.op("Greater", [valid, ctx.scalar(
        0.0, hint="zero")]), ctx.ints([-1], "last")]), rows, ctx.scalar(0.0, hint="zero")])
    if m.keep_top_k >= 0 and k2 < m.keep_top_k:
        extra = m.keep_top_k - k2
        rows = ctx.op("Pad", [rows, ctx.ints([0, 0, 0, 0, extra, 0], "pad_rows")])
        valid = ctx.op("Pad", [valid, ctx.ints([0, 0, 0, extra], "pad_valid")])
    rows = ctx.op("Reshape", [rows, ctx.ints([-1, 7], "rows")])
    valid = ctx.op("Greater", [ctx.op("Reshape", [valid, ctx.ints([-1], "flat")]),
                               ctx.scalar(0.0, hint="zero")])
    if m.keep_top_k < 0:
        out = ctx.op("Compress", [rows, valid], axis=0)
    else:
        out = ctx.op("Gather", [rows, _valid_first(ctx, valid)], axis=0)
    return ctx.op("Reshape", [out, ctx.ints([1, 1, -1, 7], "layout")])


def _filled(ctx, shape, value):
    """A float32 tensor of ``shape`` (an int64 value) filled with ``value``."""
    return ctx.op("ConstantOfShape", [shape],
                  value=ctx.g.onnx.numpy_helper.from_array(np.full(1, value, F32)))


def _row_index(ctx, x):
    """``i`` at every position of row ``i`` of the 2-D value ``x`` (int64)."""
    n = ctx.shape_of(x, 0, 1)
    rows = ctx.op("Range", [ctx.const(np.int64(0), "zero_i"),
                            ctx.op("Squeeze", [n, ctx.ints([0], "axis0")]),
                            ctx.const(np.int64(1), "one_i")])
    return ctx.op("Unsqueeze", [rows, ctx.ints([1], "axis1")])


def _valid_first(ctx, valid):
    """The permutation that moves the ``valid`` positions (a 1-D bool value) to the front,
    both parts in their original order."""
    size = ctx.op("Shape", [valid])
    index = ctx.op("Range", [ctx.const(np.int64(0), "zero_i"),
                             ctx.op("Squeeze", [size, ctx.ints([0], "axis0")]),
                             ctx.const(np.int64(1), "one_i")])
    key = ctx.op("Where", [valid, index, ctx.op("Add", [index, size])])
    _, order = ctx.op("TopK", [key, size], outputs=["key_sorted", "order"], axis=0,
                      largest=0, sorted=1)
    return order
