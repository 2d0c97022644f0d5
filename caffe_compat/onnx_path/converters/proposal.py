"""Proposal (Faster R-CNN) in ONNX operators, with OpenCV 4 dnn's rules (those of our layer:
parameters, anchors and shapes from :mod:`caffe_compat.rules.proposal`; decoding and NMS as
:mod:`._boxes` writes them). Written for an export's graph only: the torch-free path leaves it
to the torch path (ONNX's NonMaxSuppression is not one every runtime of that path reads).

Object scores (channels A..2A) and deltas of image 0 are laid out cell by cell (row-major),
anchor by anchor; the anchors are constants (the graph fixes the feature map's size); the
deltas decode as CENTER_SIZE boxes in pixels, clipped to ``[0, width - 1] x [0, height - 1]``
of ``im_info`` (read at run time); NMS over the ``pre_nms_topn`` best boxes with a positive
score stops at ``post_nms_topn``. Tops: ``(post_nms_topn, 5)`` ROIs ``[0, x1, y1, x2, y2]`` by
score, then zero rows; optionally their scores. Batch size 1, as in OpenCV: other images of a
batch are not read.
"""
import numpy as np

from ...rules.boxes import CodeType
from ...rules.proposal import FIELDS, NO_EFFECT, proposal_rule
from . import _boxes
from ._common import F32, FLOAT, INT32, declare, export_only, register

declare("lite", "Proposal", "ProposalParameter", FIELDS, no_effect=NO_EFFECT)


@register("Proposal")
def proposal(g, lp, bottoms, blobs):
    export_only(g, lp)
    scores, deltas, info = bottoms
    rule = proposal_rule(lp, [b.shape for b in bottoms])
    a = rule.num_anchors
    h, w = scores.shape[2:]
    count = h * w * a
    first, one = g.const([0]), g.const([1])
    obj = g.op("Slice", [scores, g.const([0, a]), g.const([1, 2 * a]), g.const([0, 1])])
    obj = g.op("Reshape", [g.op("Transpose", [obj], {"perm": [0, 2, 3, 1]}),
                           g.const([1, count])])
    d = g.op("Slice", [deltas, first, one, first])
    d = g.op("Reshape", [g.op("Transpose", [d], {"perm": [0, 2, 3, 1]}), g.const([1, count, 4])])
    anchors = g.const(np.ascontiguousarray(rule.anchors(h, w), F32))
    boxes = _boxes.decode(g, d, anchors, None, CodeType.CENTER_SIZE, False, 0)
    flat_info = g.op("Reshape", [info, g.const([-1])])
    size = g.op("Cast", [g.op("Cast", [g.op("Slice", [flat_info, first, g.const([2])])],
                                {"to": INT32})], {"to": FLOAT})      # int(height), int(width)
    bound = g.op("Sub", [size, g.const(1.0)])                        # [rows - 1, cols - 1]
    bound = g.op("Gather", [bound, g.const([1, 0, 1, 0])], {"axis": 0})
    boxes = g.op("Min", [g.op("Max", [boxes, g.const(0.0)]), bound])      # (1, count, 4)
    k = count if rule.pre <= 0 else min(rule.pre, count)
    values, idx = g.op("TopK", [obj, g.const([k])], {"axis": -1, "largest": 1, "sorted": 1},
                       outputs=2)
    cand = g.op("Gather", [boxes, g.op("Squeeze", [idx, first])], {"axis": 1})
    selected = _boxes.ranked_nms(g, values, cand, k, 0.0, rule.nms_threshold, rule.post, False)
    rank = g.op("Squeeze", [g.op("Slice", [selected, g.const([2]), g.const([3]), one]), one])
    kept_boxes = g.op("Gather", [g.op("Squeeze", [cand, first]), rank], {"axis": 0})  # (S, 4)
    missing = g.op("Sub", [g.const([rule.post]), g.op("Shape", [rank])])
    zero_col = g.op("Mul", [g.op("Slice", [kept_boxes, first, one, one]), g.const(0.0)])
    rois = g.op("Concat", [zero_col, kept_boxes], {"axis": 1})
    pads = g.op("Concat", [g.const([0, 0]), missing, g.const([0])], {"axis": 0})
    tops = [type(scores)(g.op("Pad", [rois, pads]), (rule.post, 5))]
    if len(lp.top) > 1:
        kept_scores = g.op("Gather", [g.op("Squeeze", [values, first]), rank], {"axis": 0})
        col = g.op("Unsqueeze", [kept_scores, one])
        tops.append(type(scores)(g.op("Pad", [col, pads]), (rule.post, 1)))
    return tops
