"""ONNX nodes of OpenCV's box decoding and its NMS (the rules: :mod:`caffe_compat.rules.
boxes`), for DetectionOutput's ONNX form (:mod:`.detection_output`).

Decoding repeats :func:`caffe_compat.rules.boxes.decode` node for node, one float32 operation
per step (``pw = x2 - x1``, ``pcx = x1 + pw * 0.5``, ``cx = b0 * pw + pcx``, ``w = exp(b2) *
pw``, ``xmin = cx - w * 0.5``, ...): the same floats up to ``exp``'s last bit.

NMS (OpenCV's NMSFast_: candidates above the threshold, stably sorted by score, cut to
``top_k``, greedy suppression at IoU > threshold): ``TopK`` gives the ``top_k`` best in
OpenCV's order (the lower index first among equal values); ``NonMaxSuppression`` runs on them
with their rank as score (``K - rank`` above the threshold, -1 below, score threshold 0), the
ranks distinct, so the greedy pass visits them in OpenCV's order whatever the runtime does
with equal scores. IoU ``inter / (area1 + area2 - inter)`` as OpenCV's; an inverted box (size
0 in OpenCV: it neither suppresses nor is suppressed) gets zero coordinates (area 0). Pixel
boxes (``normalized_bbox: false``) measure ``w + 1`` by ``h + 1`` in OpenCV: their ``xmax``
and ``ymax`` get +1 before NMS (two such boxes less than a pixel apart then intersect, with
an IoU of at most ``1 / (w + 1)`` of the thinner box, below any usual threshold).
"""
import numpy as np

from ...rules.boxes import F32, CodeType


def decode(g, loc, priors, var, code_type, normalized, mid):
    """Decoded boxes from offsets ``loc`` (``(..., P, [L,] 4)``: ``mid`` axes between the prior
    axis and the last) against priors and variances (ONNX values of shape ``(P, 4)``; ``var``
    None when the variance is encoded in the target). The prior's width, height and centre are
    computed as OpenCV computes them (``x + w * .5`` in double there: one rounding of the exact
    sum, as float32 addition gives); constant priors fold to constants."""
    view, view1 = g.const([-1] + [1] * mid + [4]), g.const([-1] + [1] * mid + [1])
    b = loc if var is None else g.op("Mul", [loc, g.op("Reshape", [var, view])])
    if code_type == CodeType.CORNER:
        return g.op("Add", [g.op("Reshape", [priors, view]), b])
    x1, y1, x2, y2 = g.op("Split", [priors, g.const([1, 1, 1, 1])], {"axis": -1}, outputs=4)
    pw, ph = g.op("Sub", [x2, x1]), g.op("Sub", [y2, y1])
    if not normalized:
        pw, ph = (g.op("Add", [v, g.const(1.0)]) for v in (pw, ph))
    half = g.const(0.5)
    if code_type == CodeType.CORNER_SIZE:
        sizes = g.op("Concat", [pw, ph, pw, ph], {"axis": -1})
        return g.op("Add", [g.op("Reshape", [priors, view]),
                            g.op("Mul", [b, g.op("Reshape", [sizes, view])])])
    pcx = g.op("Reshape", [g.op("Add", [x1, g.op("Mul", [pw, half])]), view1])
    pcy = g.op("Reshape", [g.op("Add", [y1, g.op("Mul", [ph, half])]), view1])
    pw, ph = g.op("Reshape", [pw, view1]), g.op("Reshape", [ph, view1])
    dx, dy, dw, dh = g.op("Split", [b, g.const([1, 1, 1, 1])], {"axis": -1}, outputs=4)
    cx = g.op("Add", [g.op("Mul", [dx, pw]), pcx])
    cy = g.op("Add", [g.op("Mul", [dy, ph]), pcy])
    hw = g.op("Mul", [g.op("Mul", [g.op("Exp", [dw]), pw]), half])
    hh = g.op("Mul", [g.op("Mul", [g.op("Exp", [dh]), ph]), half])
    return g.op("Concat", [g.op("Sub", [cx, hw]), g.op("Sub", [cy, hh]),
                           g.op("Add", [cx, hw]), g.op("Add", [cy, hh])], {"axis": -1})


def clip(g, boxes, upper):
    """``min(max(boxes, 0), upper)``, ``upper`` an array broadcasting to ``[..., 4]``."""
    return g.op("Min", [g.op("Max", [boxes, g.const(0.0)]), g.const(np.asarray(upper, F32))])


def nms_boxes(g, boxes, normalized):
    """The boxes ONNX's NonMaxSuppression should see to reproduce OpenCV's overlaps."""
    x1, y1, x2, y2 = g.op("Split", [boxes, g.const([1, 1, 1, 1])], {"axis": -1}, outputs=4)
    inverted = g.op("Or", [g.op("Less", [x2, x1]), g.op("Less", [y2, y1])])
    if not normalized:
        boxes = g.op("Add", [boxes, g.const(np.array([0, 0, 1, 1], F32))])
    return g.op("Where", [inverted, g.const(0.0), boxes])


def ranked_nms(g, values, boxes, k, threshold, iou, limit, normalized):
    """Greedy NMS over candidates already sorted by ``TopK``: ``values`` ``(B, K)`` their
    scores (descending), ``boxes`` ``(B, K, 4)``. Returns ONNX's selected indices ``(S, 3)``
    (``[b, 0, rank]``) in selection order; at most ``limit`` per row (None: no limit)."""
    above = g.op("Greater", [values, g.const(np.array(threshold, F32))])
    scores = g.op("Where", [above, g.const((k - np.arange(k)).astype(F32)), g.const(-1.0)])
    scores = g.op("Unsqueeze", [scores, g.const([1])])
    return g.op("NonMaxSuppression", [
        nms_boxes(g, boxes, normalized), scores, g.const([k if limit is None else limit]),
        g.const(np.array([iou], F32)), g.const(np.array([0.0], F32))])
