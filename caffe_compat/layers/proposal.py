"""Proposal (Faster R-CNN's region proposals) as OpenCV 4 dnn's ProposalLayer computes them.

Bottoms: objectness ``(1, 2A, H, W)`` (background scores first, then object scores), box deltas
``(1, 4A, H, W)`` and ``im_info`` ``[height, width, ...]``. Tops: ROIs ``(post_nms_topn, 5)``
rows ``[0, x1, y1, x2, y2]`` by score descending, unused rows zero; optionally their scores
``(post_nms_topn, 1)``. Batch size 1, as in OpenCV.

The parameters, anchors and shapes: :mod:`caffe_compat.rules.proposal`. The deltas decode as
CENTER_SIZE boxes in pixels (sizes + 1), clipped to ``[0, width - 1] x [0, height - 1]`` of
``im_info``; NMS keeps boxes with a positive score, at most ``pre_nms_topn`` candidates,
``nms_thresh``, and stops at ``post_nms_topn``.

``min_size`` is not used, as in OpenCV (py-faster-rcnn's Python layer drops boxes smaller than
``min_size * im_info[2]``): a warning names it when it is set. Inference only.
"""
import warnings

import numpy as np
import torch

from . import _detection as det
from .base import Layer
from .detection_output import no_backward
from .registry import register_layer
from ..rules.fields import declare
from ..rules.proposal import FIELDS, NO_EFFECT, proposal_rule

F32 = np.float32

declare("torch", "Proposal", "ProposalParameter", FIELDS,
        no_effect={"min_size": NO_EFFECT["min_size"] + " (a warning names it)"})


@register_layer("Proposal")
class Proposal(Layer):
    exact_bottoms = 3
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = proposal_rule(param, self.bottom_shapes)
        self.stride, self.base, self.pre, self.post = rule.stride, rule.base, rule.pre, rule.post
        self.nms_threshold, self.offset = rule.nms_threshold, rule.offset
        self.anchor_w, self.anchor_h = rule.anchor_w, rule.anchor_h
        if rule.min_size_set:
            warnings.warn(f"layer '{self.name}': proposal_param.min_size not used (OpenCV's dnn "
                          "keeps small boxes; py-faster-rcnn's Python layer would drop boxes "
                          "under min_size * im_info[2])", det.DetectionWarning, stacklevel=2)

    def top_shapes(self, bottom_shapes):
        return self.rule.top_shapes(bottom_shapes)

    def forward(self, scores, deltas, im_info):
        shapes = self.top_shapes([scores.shape, deltas.shape, im_info.shape])
        if scores.device.type == "meta":
            tops = tuple(torch.empty(s, dtype=scores.dtype, device="meta") for s in shapes)
            return tops if len(tops) > 1 else tops[0]
        a = self.rule.num_anchors
        h, w = scores.shape[2:]
        obj = scores.detach().cpu().numpy().astype(F32)[0, a:].transpose(1, 2, 0).reshape(-1)
        d = deltas.detach().cpu().numpy().astype(F32)[0].transpose(1, 2, 0).reshape(-1, 4)
        info = im_info.detach().cpu().numpy().astype(F32).reshape(-1)
        rows, cols = int(info[0]), int(info[1])
        boxes = det.decode(self.rule.anchors(h, w), None, d, det.CodeType.CENTER_SIZE, False,
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
