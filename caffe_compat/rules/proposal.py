"""Proposal's rules as OpenCV 4 dnn's ProposalLayer sets it up, read by every engine:
``proposal_param``'s ``feat_stride`` (positive), ``base_size``, ``ratio`` and ``scale`` (one at
least of each), ``pre_nms_topn``, ``post_nms_topn`` and ``nms_thresh``; ``min_size`` is not
read (OpenCV's rule).

Anchors (the same boxes as py-faster-rcnn's generate_anchors): for each ratio ``r`` and scale
``s``, ``w = floor(base_size / sqrt(r) + 0.5)``, ``h = floor(w r + 0.5)``, size ``(s w, s h)``,
centred at ``((x + 0.5 base_size / feat_stride) feat_stride, ...)``, ``xmax = cx + w / 2 - 1``,
in float32; order: cell (row-major), ratio, scale. Bottoms: objectness ``(1, 2A, H, W)``, box
deltas ``(1, 4A, H, W)``, ``im_info`` of at least 2 values; tops ``(post_nms_topn, 5)`` and
optionally ``(post_nms_topn, 1)``.
"""
from __future__ import annotations

import math

import numpy as np

from .record import frozen
from .refusal import refuse

F32 = np.float32

FIELDS = frozenset({"feat_stride", "base_size", "ratio", "scale", "pre_nms_topn",
                    "post_nms_topn", "nms_thresh"})
NO_EFFECT = {"min_size": "not read by OpenCV's dnn, whose rule every engine follows"}


@frozen
class ProposalRule:
    layer: object
    stride: int
    base: int
    pre: int
    post: int
    nms_threshold: float
    anchor_w: object        # float32 (A,): each anchor's width, ratio by ratio, scale by scale
    anchor_h: object
    offset: object          # float32: the anchors' centre in a cell, in cells
    min_size_set: bool      # min_size given (not read: the torch layer warns)

    @property
    def num_anchors(self):
        return len(self.anchor_w)

    def top_shapes(self, bottom_shapes):
        scores, deltas, info = (tuple(s) for s in bottom_shapes[:3])
        a = self.num_anchors
        if len(scores) != 4 or scores[0] != 1 or scores[1] != 2 * a:
            refuse(self.layer, f"scores must be (1, 2 x {a} anchors, H, W), got {scores}")
        if deltas != (1, 4 * a) + scores[2:]:
            refuse(self.layer, f"deltas must be (1, 4 x {a} anchors, H, W) like the scores, "
                   f"got {deltas}")
        if math.prod(info) < 2:
            refuse(self.layer, f"im_info must hold [height, width, ...], got shape {info}")
        return [(self.post, 5), (self.post, 1)][:len(self.layer.top)]

    def anchors(self, h, w):
        """The ``(h w A, 4)`` float32 anchors of an ``h x w`` map, in the order above."""
        step = F32(self.stride)
        xs = (np.arange(w, dtype=F32)[None, :, None] + self.offset) * step
        ys = (np.arange(h, dtype=F32)[:, None, None] + self.offset) * step
        half_w = self.anchor_w[None, None, :] * F32(0.5)
        half_h = self.anchor_h[None, None, :] * F32(0.5)
        shape = (h, w, self.num_anchors)
        return np.stack([np.broadcast_to(xs - half_w, shape), np.broadcast_to(ys - half_h, shape),
                         np.broadcast_to(xs + half_w - F32(1), shape),
                         np.broadcast_to(ys + half_h - F32(1), shape)], -1).reshape(-1, 4)


def proposal_rule(layer, bottom_shapes=None):
    """The :class:`ProposalRule` of ``layer``, refusing what OpenCV's layer refuses (and, with
    ``bottom_shapes``, bottoms of other shapes)."""
    p = layer.proposal_param
    stride, base = int(p.feat_stride), int(p.base_size)
    ratios, scales = [F32(r) for r in p.ratio], [F32(s) for s in p.scale]
    if not ratios or not scales:
        refuse(layer, "proposal_param needs at least one ratio and one scale")
    if stride <= 0:
        refuse(layer, "feat_stride must be positive", "proposal_param.feat_stride")
    widths, heights = [], []
    for r in ratios:
        for s in scales:
            w = F32(math.floor(F32(F32(base) / np.sqrt(r, dtype=F32)) + F32(0.5)))
            h = F32(math.floor(F32(w * r) + F32(0.5)))
            widths.append(s * w)
            heights.append(s * h)
    rule = ProposalRule(layer, stride, base, int(p.pre_nms_topn), int(p.post_nms_topn),
                        float(p.nms_thresh), np.array(widths, F32), np.array(heights, F32),
                        F32(0.5 * base / stride), p.HasField("min_size"))
    if bottom_shapes is not None:
        rule.top_shapes(bottom_shapes)
    return rule
