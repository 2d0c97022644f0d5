"""DetectionOutput, by the rule of the torch layer (:class:`caffe_compat.rules.detection_output.
DetectionRule`, OpenCV 4 dnn's), in two forms; output ``(1, 1, keep_top_k * N, 7)``. The
torch-free runtime runs the rule's own forward as a numpy step after the ONNX part
(``nms_param.eta`` other than 1 goes to the torch path, which warns that it is not used).

An export's graph (``batch_free``) gets ONNX operators (the boxes: :mod:`._boxes`):

1. location offsets ``(N, P, L, 4)`` decoded against the priors (constants when PriorBox
   layers make them), clipped with ``clip``;
2. per image and target class (background skipped): the ``nms_param.top_k`` best candidates
   (``TopK``), greedy NMS at ``nms_threshold`` over those above ``confidence_threshold``
   (0 when unset), at most ``keep_top_k`` per class;
3. across classes the ``keep_top_k`` best (``TopK`` over class-major candidates: equal
   confidences in class order, then NMS order, as the layer; OpenCV's ``std::sort`` leaves
   it unspecified);
4. rows ``[image, label, confidence, xmin, ymin, xmax, ymax]``, image by image, by confidence
   descending, at the front of the output, the other rows zero (OpenCV's layout);
   ``keep_top_k: -1``: one row per detection.

Equal to the layer's (and OpenCV's) up to the last bit of ``exp`` in the decoding (a box
whose IoU lies within that rounding of the threshold could be decided the other way).
``nms_param.eta`` is not used, as in OpenCV (the export's net warned when it was built).
"""
import math

import numpy as np

from ...rules.detection_output import DetectionRule, FIELDS, NO_EFFECT, output_rows
from . import _boxes
from ._common import F32, FLOAT, Unsupported, declare, fail, register

declare("lite", "DetectionOutput", "DetectionOutputParameter", FIELDS - {"nms_param"},
        refuses={"nms_param"}, no_effect=NO_EFFECT)


def _setup(lp, bottoms, warned):
    """The layer's rule and its number of priors, the bottoms checked; ``warned``: the net was
    built by the torch path, which warned about ``eta``."""
    rule = DetectionRule(lp.detection_output_param, fail)
    if rule.eta != 1.0 and not warned:
        raise Unsupported(f"layer '{lp.name}': nms_param.eta (the torch path warns)")
    if len(bottoms) not in (3, 4) or (rule.clip and not rule.normalized and len(bottoms) < 4):
        raise Unsupported(f"layer '{lp.name}': {len(bottoms)} bottoms")
    loc, conf, prior = (b.shape for b in bottoms[:3])
    if len(prior) < 3 or prior[2] % 4 or loc[0] != conf[0] or \
            prior[1] != (1 if rule.encoded else 2):
        raise Unsupported(f"layer '{lp.name}': bottoms {loc}, {conf}, {prior}")
    n_priors = prior[2] // 4
    if math.prod(loc[1:]) != n_priors * rule.num_loc * 4 or \
            math.prod(conf[1:]) != n_priors * rule.num_classes:
        raise Unsupported(f"layer '{lp.name}': bottoms {loc}, {conf}, {prior}")
    return rule, n_priors


def _top(rule, bottoms):
    return (1, 1, output_rows(rule.keep_top_k, bottoms[0].shape[0]), 7)


@register("DetectionOutput", host=True)
def detection_output_step(lp, bottoms, blobs):
    from ..runtime import _threads
    rule, _ = _setup(lp, bottoms, False)
    image_hw = tuple(bottoms[3].shape[2:]) if len(bottoms) == 4 else None

    def run(arrays):
        # the images shared with a helper thread where the thread policy gives two or more
        return [rule.detections(arrays[0], arrays[1], arrays[2], image_hw, _threads())]

    return [_top(rule, bottoms)], run


@register("DetectionOutput")
def detection_output(g, lp, bottoms, blobs):
    rule, p = _setup(lp, bottoms, g.batch_free)
    loc, conf = bottoms[:2]
    prior = g.op("Reshape", [bottoms[2], g.const([-1, p, 4])])
    priors = g.op("Gather", [prior, g.const(0)], {"axis": 0})                  # (P, 4)
    var = None if rule.encoded else g.op("Gather", [prior, g.const(1)], {"axis": 0})
    targets = [c for c in range(rule.num_classes) if c != rule.background]
    nt = len(targets)
    boxes = g.op("Reshape", [loc, g.const([0, p, rule.num_loc, 4])])
    boxes = _boxes.decode(g, boxes, priors, var, rule.code_type, rule.normalized, 1)
    if rule.clip:
        # [0, 1], or the image's pixels [0, w - 1] x [0, h - 1]
        bound = [1.0] * 4 if rule.normalized else [d - 1 for d in bottoms[3].shape[3:1:-1]] * 2
        boxes = _boxes.clip(g, boxes, bound)
    boxes = g.op("Transpose", [boxes], {"perm": [0, 2, 1, 3]})               # (N, L, P, 4)
    if rule.share:
        shape = g.op("Concat", [_length(g, boxes, 0), g.const([nt, p, 4])], {"axis": 0})
        boxes = g.op("Expand", [boxes, shape])                                # (N, C', P, 4)
    else:
        boxes = g.op("Gather", [boxes, g.const(targets)], {"axis": 1})
    scores = g.op("Reshape", [conf, g.const([0, p, rule.num_classes])])
    scores = g.op("Transpose", [scores], {"perm": [0, 2, 1]})
    scores = g.op("Gather", [scores, g.const(targets)], {"axis": 1})          # (N, C', P)
    k = p if rule.top_k <= 0 else min(rule.top_k, p)
    values, idx = g.op("TopK", [scores, g.const([k])], {"axis": -1, "largest": 1, "sorted": 1},
                       outputs=2)                                             # (N, C', K)
    cand = g.op("GatherElements", [boxes, _last_expanded(g, idx, [1, 1, 1, 4])],
                {"axis": 2})                                                  # (N, C', K, 4)
    flat_values = g.op("Reshape", [values, g.const([-1, k])])
    flat_boxes = g.op("Reshape", [cand, g.const([-1, k, 4])])
    limit = rule.keep_top_k if rule.keep_top_k >= 0 else None
    selected = _boxes.ranked_nms(g, flat_values, flat_boxes, k, rule.threshold,
                                 rule.nms_threshold, limit, rule.normalized)
    # kept[b * C' + c, rank] = 1 for every selected candidate
    where = g.op("Gather", [selected, g.const([0, 2])], {"axis": 1})
    ones = _filled(g, _length(g, where, 0), 1.0)
    zeros = _filled(g, g.op("Shape", [flat_values]), 0.0)
    kept = g.op("ScatterND", [zeros, where, ones])                            # (N * C', K)
    kept = g.op("Reshape", [kept, g.const([-1, nt * k])])                     # (N, C' * K)
    ranked = g.op("Reshape", [values, g.const([-1, nt * k])])
    zero = g.const(0.0)
    masked = g.op("Where", [g.op("Greater", [kept, zero]), ranked, g.const(-np.inf)])
    k2 = nt * k if rule.keep_top_k < 0 else min(rule.keep_top_k, nt * k)
    best, pick = g.op("TopK", [masked, g.const([k2])], {"axis": -1, "largest": 1, "sorted": 1},
                      outputs=2)                                              # (N, K2)
    valid = g.op("GatherElements", [kept, pick], {"axis": 1})
    label = g.op("Gather", [g.const(np.asarray(targets, F32)),
                            g.op("Div", [pick, g.const(k)])])
    det_boxes = g.op("GatherElements", [g.op("Reshape", [cand, g.const([-1, nt * k, 4])]),
                                        _last_expanded(g, pick, [1, 1, 4])],
                     {"axis": 1})                                             # (N, K2, 4)
    image = g.op("Expand", [g.op("Cast", [_row_index(g, best)], {"to": FLOAT}),
                            g.op("Shape", [best])])
    cols = [g.op("Unsqueeze", [v, g.const([-1])]) for v in (image, label, best)]
    rows = g.op("Concat", cols + [det_boxes], {"axis": -1})                   # (N, K2, 7)
    rows = g.op("Where", [g.op("Unsqueeze", [g.op("Greater", [valid, zero]), g.const([-1])]),
                          rows, zero])
    if rule.keep_top_k >= 0 and k2 < rule.keep_top_k:
        extra = rule.keep_top_k - k2
        rows = g.op("Pad", [rows, g.const([0, 0, 0, 0, extra, 0])])
        valid = g.op("Pad", [valid, g.const([0, 0, 0, extra])])
    rows = g.op("Reshape", [rows, g.const([-1, 7])])
    valid = g.op("Greater", [g.op("Reshape", [valid, g.const([-1])]), zero])
    if rule.keep_top_k < 0:
        out = g.op("Compress", [rows, valid], {"axis": 0})
    else:
        out = g.op("Gather", [rows, _valid_first(g, valid)], {"axis": 0})
    return [type(loc)(g.op("Reshape", [out, g.const([1, 1, -1, 7])]), _top(rule, bottoms))]


def _length(g, x, axis):
    """The length of ``x``'s axis ``axis`` as a 1-D int64 value."""
    return g.op("Slice", [g.op("Shape", [x]), g.const([axis]), g.const([axis + 1])])


def _filled(g, shape, value):
    """A float32 value of ``shape`` (an int64 value) filled with ``value``."""
    return g.op("Expand", [g.const(np.array(value, F32)), shape])


def _last_expanded(g, index, shape):
    """``index`` with a last axis added, expanded to ``shape`` (GatherElements' index)."""
    return g.op("Expand", [g.op("Unsqueeze", [index, g.const([-1])]), g.const(shape)])


def _range(g, length):
    """``0 .. length - 1`` (int64) for a 1-D value of one length."""
    return g.op("Range", [g.const(0), g.op("Squeeze", [length, g.const([0])]), g.const(1)])


def _row_index(g, x):
    """``i`` at every position of row ``i`` of the 2-D value ``x`` (int64)."""
    return g.op("Unsqueeze", [_range(g, _length(g, x, 0)), g.const([1])])


def _valid_first(g, valid):
    """The permutation that moves the ``valid`` positions (a 1-D bool value) to the front,
    both parts in their original order."""
    size = g.op("Shape", [valid])
    index = _range(g, size)
    key = g.op("Where", [valid, index, g.op("Add", [index, size])])
    _, order = g.op("TopK", [key, size], {"axis": 0, "largest": 0, "sorted": 1}, outputs=2)
    return order
