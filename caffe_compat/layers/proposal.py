"""Proposal (Faster R-CNN's region proposals) as OpenCV 4 dnn's ProposalLayer computes them.

Bottoms: objectness ``(1, 2A, H, W)`` (background scores first, then object scores), box deltas
``(1, 4A, H, W)`` and ``im_info`` ``[height, width, ...]``. Tops: ROIs ``(post_nms_topn, 5)``
rows ``[0, x1, y1, x2, y2]`` by score descending, unused rows zero; optionally their scores
``(post_nms_topn, 1)``. Batch size 1, as in OpenCV.

Anchors (OpenCV's rule, the same boxes as py-faster-rcnn's generate_anchors): for each ratio
``r`` and scale ``s``, ``w = floor(base_size / sqrt(r) + 0.5)``, ``h = floor(w * r + 0.5)``,
size ``(s * w, s * h)``, centred at ``((x + 0.5 * base_size / feat_stride) * feat_stride, ...)``,
``xmax = cx + w / 2 - 1``; order: cell (row-major), ratio, scale. The deltas decode as
CENTER_SIZE boxes in pixels (sizes + 1), clipped to ``[0, width - 1] x [0, height - 1]`` of
``im_info``; NMS keeps boxes with a positive score, at most ``pre_nms_topn`` candidates,
``nms_thresh``, and stops at ``post_nms_topn``.

``min_size`` is not used, as in OpenCV (py-faster-rcnn's Python layer drops boxes smaller than
``min_size * im_info[2]``): a warning names it when it is set. Inference only.
"""
import math
import warnings

import numpy as np
import torch

from . import _detection as det
from .base import Layer
from .detection_output import no_backward
from .registry import register_layer
from ..rules.fields import declare

F32 = np.float32

declare("torch", "Proposal", "ProposalParameter",
        {"feat_stride", "base_size", "ratio", "scale", "pre_nms_topn", "post_nms_topn",
         "nms_thresh"},
        no_effect={"min_size": "not read by OpenCV's dnn, whose rule the layer follows (a "
                               "warning names it)"})


@register_layer("Proposal")
class Proposal(Layer):
    exact_bottoms = 3
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        p = param.proposal_param
        self.stride, self.base = int(p.feat_stride), int(p.base_size)
        self.pre, self.post = int(p.pre_nms_topn), int(p.post_nms_topn)
        self.nms_threshold = float(p.nms_thresh)
        ratios, scales = [F32(r) for r in p.ratio], [F32(s) for s in p.scale]
        if not ratios or not scales:
            self.fail("proposal_param needs at least one ratio and one scale")
        if self.stride <= 0:
            self.fail("feat_stride must be positive")
        widths, heights = [], []
        for r in ratios:
            for s in scales:
                w = F32(math.floor(F32(F32(self.base) / np.sqrt(r, dtype=F32)) + F32(0.5)))
                h = F32(math.floor(F32(w * r) + F32(0.5)))
                widths.append(s * w)
                heights.append(s * h)
        self.anchor_w, self.anchor_h = np.array(widths, F32), np.array(heights, F32)
        self.offset = F32(0.5 * self.base / self.stride)
        if p.HasField("min_size"):
            warnings.warn(f"layer '{self.name}': proposal_param.min_size not used (OpenCV's dnn "
                          "keeps small boxes; py-faster-rcnn's Python layer would drop boxes "
                          "under min_size * im_info[2])", det.DetectionWarning, stacklevel=2)
        self.top_shapes(self.bottom_shapes)

    @property
    def num_anchors(self):
        return len(self.anchor_w)

    def top_shapes(self, bottom_shapes):
        scores, deltas, info = bottom_shapes[:3]
        a = self.num_anchors
        if len(scores) != 4 or scores[0] != 1 or scores[1] != 2 * a:
            self.fail(f"scores must be (1, 2 x {a} anchors, H, W), got {scores}")
        if tuple(deltas) != (1, 4 * a) + tuple(scores[2:]):
            self.fail(f"deltas must be (1, 4 x {a} anchors, H, W) like the scores, got {deltas}")
        if int(np.prod(info)) < 2:
            self.fail(f"im_info must hold [height, width, ...], got shape {info}")
        return [(self.post, 5), (self.post, 1)][:len(self.param.top)]

    def anchors(self, h, w):
        step = F32(self.stride)
        xs = (np.arange(w, dtype=F32)[None, :, None] + self.offset) * step
        ys = (np.arange(h, dtype=F32)[:, None, None] + self.offset) * step
        half_w = self.anchor_w[None, None, :] * F32(0.5)
        half_h = self.anchor_h[None, None, :] * F32(0.5)
        shape = (h, w, self.num_anchors)
        return np.stack([np.broadcast_to(xs - half_w, shape), np.broadcast_to(ys - half_h, shape),
                         np.broadcast_to(xs + half_w - F32(1), shape),
                         np.broadcast_to(ys + half_h - F32(1), shape)], -1).reshape(-1, 4)

    def forward(self, scores, deltas, im_info):
        shapes = self.top_shapes([scores.shape, deltas.shape, im_info.shape])
        if scores.device.type == "meta":
            tops = tuple(torch.empty(s, dtype=scores.dtype, device="meta") for s in shapes)
            return tops if len(tops) > 1 else tops[0]
        a = self.num_anchors
        h, w = scores.shape[2:]
        obj = scores.detach().cpu().numpy().astype(F32)[0, a:].transpose(1, 2, 0).reshape(-1)
        d = deltas.detach().cpu().numpy().astype(F32)[0].transpose(1, 2, 0).reshape(-1, 4)
        info = im_info.detach().cpu().numpy().astype(F32).reshape(-1)
        rows, cols = int(info[0]), int(info[1])
        boxes = det.decode(self.anchors(h, w), None, d, det.CodeType.CENTER_SIZE, False,
                           (float(cols - 1), float(rows - 1)), np)
        sizes = det.box_size(*boxes.T, False, np)
        kept = det.nms(boxes, sizes, obj, 0.0, self.nms_threshold, self.pre, False, self.post)
        kept = [kept[i] for i in np.argsort(-obj[kept], kind="stable")]
        rois = np.zeros((self.post, 5), F32)
        roi_scores = np.zeros((self.post, 1), F32)
        rois[:len(kept), 1:] = boxes[kept]
        roi_scores[:len(kept), 0] = obj[kept]
        tops = [torch.from_numpy(t).to(device=scores.device, dtype=scores.dtype)
                for t in (rois, roi_scores)][:len(self.param.top)]
        tops = [no_backward(t, self.name, [scores, deltas, im_info]) for t in tops]
        return tuple(tops) if len(tops) > 1 else tops[0]
