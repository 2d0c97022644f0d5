"""Proposal (Faster R-CNN) in ONNX operators, with OpenCV 4 dnn's rules (those of our layer).

Object scores (channels A..2A) and deltas of image 0 are laid out cell by cell (row-major),
anchor by anchor; the anchors are constants (the export fixes the feature map's size); the
deltas decode as CENTER_SIZE boxes in pixels, clipped to ``[0, width - 1] x [0, height - 1]``
of ``im_info`` (read at run time); NMS (:mod:`._boxes`) over the ``pre_nms_topn`` best
boxes with a positive score stops at ``post_nms_topn``. Tops: ``(post_nms_topn, 5)`` ROIs
``[0, x1, y1, x2, y2]`` by score, then zero rows; optionally their scores. Batch size 1, as in
OpenCV: other images of a batch are not read.
"""
import numpy as np

from ...rules.fields import declare
from ..fields import PROPOSAL, PROPOSAL_NO_EFFECT
from ..registry import register_converter
from . import _boxes
from ...layers import _detection as det

declare("onnx", "Proposal", "ProposalParameter", PROPOSAL, no_effect=PROPOSAL_NO_EFFECT)

F32 = np.float32


@register_converter("Proposal")
def proposal(ctx):
    m = ctx.module
    scores, deltas, info = ctx.bottoms
    a = m.num_anchors
    h, w = ctx.bottom_shapes[0][2:]
    count = h * w * a
    first = ctx.ints([0], "first")
    one = ctx.ints([1], "one")
    obj = ctx.op("Slice", [scores, ctx.ints([0, a], "obj_start"), ctx.ints([1, 2 * a],
                                                                         "obj_end"),
                           ctx.ints([0, 1], "axes01")])
    obj = ctx.op("Reshape", [ctx.op("Transpose", [obj], perm=[0, 2, 3, 1]),
                             ctx.ints([1, count], "flat_scores")])
    d = ctx.op("Slice", [deltas, first, one, first])
    d = ctx.op("Reshape", [ctx.op("Transpose", [d], perm=[0, 2, 3, 1]),
                           ctx.ints([1, count, 4], "flat_deltas")])
    anchors = ctx.const(np.ascontiguousarray(m.anchors(h, w), F32), "anchors")
    boxes = _boxes.decode(ctx, d, anchors, None, det.CodeType.CENTER_SIZE, False, 0)
    flat_info = ctx.op("Reshape", [info, ctx.ints([-1], "flat")])
    size = ctx.op("Cast", [ctx.op("Cast", [ctx.op("Slice", [flat_info, first,
                                                            ctx.ints([2], "two")])], to=6)],
                  to=1)                                   # int(height), int(width)
    bound = ctx.op("Sub", [size, ctx.scalar(1.0, hint="one_f")])          # [rows-1, cols-1]
    bound = ctx.op("Gather", [bound, ctx.ints([1, 0, 1, 0], "xyxy")], axis=0)
    boxes = _boxes.clip(ctx, boxes, bound)                                 # (1, count, 4)
    k = count if m.pre <= 0 else min(m.pre, count)
    values, idx = ctx.op("TopK", [obj, ctx.ints([k], "pre_nms_topn")],
                         outputs=["values", "idx"], axis=-1, largest=1, sorted=1)
    cand = ctx.op("Gather", [boxes, ctx.op("Squeeze", [idx, ctx.ints([0], "axis0")])], axis=1)
    selected = _boxes.ranked_nms(ctx, values, cand, k, 0.0, m.nms_threshold, m.post, False)
    rank = ctx.op("Squeeze", [ctx.op("Slice", [selected, ctx.ints([2], "rank_col"),
                                               ctx.ints([3], "rank_end"), one]),
                              ctx.ints([1], "axis1")])
    kept_boxes = ctx.op("Gather", [ctx.op("Squeeze", [cand, ctx.ints([0], "axis0")]), rank],
                        axis=0)                                            # (S, 4)
    kept_scores = ctx.op("Gather", [ctx.op("Squeeze", [values, ctx.ints([0], "axis0")]), rank],
                         axis=0)                                           # (S,)
    kept = ctx.op("Shape", [rank])
    missing = ctx.op("Sub", [ctx.ints([m.post], "post_nms_topn"), kept])
    zero_col = ctx.op("Mul", [ctx.op("Slice", [kept_boxes, first, one, one]),
                              ctx.scalar(0.0, hint="zero")])
    rois = ctx.op("Concat", [zero_col, kept_boxes], axis=1)
    pads = ctx.op("Concat", [ctx.ints([0, 0], "pad_head"), missing, ctx.ints([0], "pad_tail")],
                  axis=0)
    tops = [ctx.op("Pad", [rois, pads])]
    if len(ctx.node.tops) > 1:
        col = ctx.op("Unsqueeze", [kept_scores, one])
        tops.append(ctx.op("Pad", [col, pads]))
    return tops
