"""ONNX pieces shared by DetectionOutput and Proposal: OpenCV's box decoding and its NMS.

Decoding repeats :func:`caffe_compat.layers._detection.decode` node for node, one float32
operation per step (``pw = x2 - x1``, ``pcx = x1 + pw * 0.5``, ``cx = b0 * pw + pcx``, ``w =
exp(b2) * pw``, ``xmin = cx - w * 0.5``, ...), so the decoded boxes are the same floats up to
``exp``'s last bit.

NMS (OpenCV's NMSFast_: candidates above the threshold, stably sorted by score, cut to
``top_k``, greedy suppression at IoU > threshold) maps onto ONNX as:

1. ``TopK`` along the candidates: the ``top_k`` best in OpenCV's order (ONNX's TopK puts
   the lower index first among equal values, as a stable sort does);
2. ``NonMaxSuppression`` on those candidates with their rank as score (``K - rank`` above
   the threshold, -1 below, score threshold 0): ONNX leaves the order of equal scores to the
   runtime (onnxruntime's heap does not keep it), the ranks are distinct, so the greedy pass
   visits the boxes in OpenCV's order.

IoU: ONNX computes ``inter / (area1 + area2 - inter)`` as OpenCV does. OpenCV gives an
inverted box (``xmax < xmin`` or ``ymax < ymin``) size 0, so it neither suppresses nor is
suppressed: such boxes are given zero coordinates (area 0, which ONNX never suppresses).
Boxes in pixels (``normalized_bbox: false``) measure ``w + 1`` by ``h + 1`` in OpenCV: their
``xmax`` and ``ymax`` get +1 before NMS. Two pixel boxes whose gap is under one pixel
intersect with a negative width in OpenCV (size 0) but a positive one after the shift; their
IoU is at most ``1 / (w + 1)`` of the thinner box, below any usual threshold.
"""
import numpy as np

from ...layers import _detection as det

F32 = np.float32


def decode(ctx, loc, priors, var, code_type, normalized, mid):
    """Decoded boxes from offsets ``loc`` (``(..., P, [L,] 4)``: ``mid`` axes between the prior
    axis and the last) against priors and variances (ONNX values of shape ``(P, 4)``; ``var``
    None when the variance is encoded in the target). The prior's width, height and centre are
    computed as OpenCV computes them (``x + w * .5`` in double there: one rounding of the exact
    sum, as float32 addition gives); constant priors fold to constants."""
    view = ctx.ints([-1] + [1] * mid + [4], "per_prior4")
    view1 = ctx.ints([-1] + [1] * mid + [1], "per_prior1")
    b = loc if var is None else ctx.op("Mul", [loc, ctx.op("Reshape", [var, view])])
    if code_type == det.CodeType.CORNER:
        return ctx.op("Add", [ctx.op("Reshape", [priors, view]), b])
    x1, y1, x2, y2 = ctx.op("Split", [priors, ctx.ints([1, 1, 1, 1], "split4")],
                            outputs=["px1", "py1", "px2", "py2"], axis=-1)
    pw, ph = ctx.op("Sub", [x2, x1]), ctx.op("Sub", [y2, y1])
    if not normalized:
        pw = ctx.op("Add", [pw, ctx.scalar(1.0, hint="one")])
        ph = ctx.op("Add", [ph, ctx.scalar(1.0, hint="one")])
    half = ctx.scalar(0.5, hint="half")
    if code_type == det.CodeType.CORNER_SIZE:
        sizes = ctx.op("Concat", [pw, ph, pw, ph], axis=-1)
        return ctx.op("Add", [ctx.op("Reshape", [priors, view]),
                              ctx.op("Mul", [b, ctx.op("Reshape", [sizes, view])])])
    pcx = ctx.op("Reshape", [ctx.op("Add", [x1, ctx.op("Mul", [pw, half])]), view1])
    pcy = ctx.op("Reshape", [ctx.op("Add", [y1, ctx.op("Mul", [ph, half])]), view1])
    pw, ph = ctx.op("Reshape", [pw, view1]), ctx.op("Reshape", [ph, view1])
    dx, dy, dw, dh = ctx.op("Split", [b, ctx.ints([1, 1, 1, 1], "split4")],
                            outputs=["dx", "dy", "dw", "dh"], axis=-1)
    cx = ctx.op("Add", [ctx.op("Mul", [dx, pw]), pcx])
    cy = ctx.op("Add", [ctx.op("Mul", [dy, ph]), pcy])
    w = ctx.op("Mul", [ctx.op("Exp", [dw]), pw])
    h = ctx.op("Mul", [ctx.op("Exp", [dh]), ph])
    hw, hh = ctx.op("Mul", [w, half]), ctx.op("Mul", [h, half])
    return ctx.op("Concat", [ctx.op("Sub", [cx, hw]), ctx.op("Sub", [cy, hh]),
                             ctx.op("Add", [cx, hw]), ctx.op("Add", [cy, hh])], axis=-1)


def clip(ctx, boxes, upper):
    """``min(max(boxes, 0), upper)`` with ``upper`` a value broadcasting to ``[..., 4]``."""
    return ctx.op("Min", [ctx.op("Max", [boxes, ctx.scalar(0.0, hint="zero")]), upper])


def nms_boxes(ctx, boxes, normalized):
    """The boxes ONNX's NonMaxSuppression should see to reproduce OpenCV's overlaps."""
    x1, y1, x2, y2 = ctx.op("Split", [boxes, ctx.ints([1, 1, 1, 1], "split4")],
                            outputs=["x1", "y1", "x2", "y2"], axis=-1)
    inverted = ctx.op("Or", [ctx.op("Less", [x2, x1]), ctx.op("Less", [y2, y1])])
    if not normalized:
        boxes = ctx.op("Add", [boxes, ctx.const(np.array([0, 0, 1, 1], F32), "plus_one")])
    return ctx.op("Where", [inverted, ctx.scalar(0.0, hint="zero"), boxes])


def ranked_nms(ctx, values, boxes, k, threshold, iou, limit, normalized):
    """Greedy NMS over candidates already sorted by ``TopK``: ``values`` ``(B, K)`` their
    scores (descending), ``boxes`` ``(B, K, 4)``. Returns ONNX's selected indices ``(S, 3)``
    (``[b, 0, rank]``) in selection order; at most ``limit`` per row (None: no limit)."""
    above = ctx.op("Greater", [values, ctx.scalar(threshold, hint="threshold")])
    ranks = ctx.const((k - np.arange(k)).astype(F32), "rank_score")
    scores = ctx.op("Where", [above, ranks, ctx.scalar(-1.0, hint="below")])
    scores = ctx.op("Unsqueeze", [scores, ctx.ints([1], "axis1")])
    limit = k if limit is None else limit
    return ctx.op("NonMaxSuppression", [nms_boxes(ctx, boxes, normalized), scores,
                                        ctx.const(np.array([limit], np.int64), "max_boxes"),
                                        ctx.const(np.array([iou], F32), "iou_threshold"),
                                        ctx.const(np.array([0.0], F32), "rank_threshold")])
