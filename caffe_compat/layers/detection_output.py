"""DetectionOutput (SSD): decode the location predictions against the priors, run per-class NMS,
keep the best ``keep_top_k`` detections; OpenCV 4 dnn's DetectionOutputLayer on the CPU.

Bottoms: location predictions ``(N, P * L * 4)`` (``L`` = 1 with ``share_location``, else
``num_classes``), confidences ``(N, P * num_classes)``, priors ``(1, 2, P * 4)`` (boxes, then
variances; ``(1, 1, P * 4)`` with ``variance_encoded_in_target``) and, for ``clip`` of boxes in
pixels, the image (its height and width are the bounds).

Top: ``(1, 1, keep_top_k * N, 7)`` rows ``[image_id, label, confidence, xmin, ymin, xmax,
ymax]``, image by image, each image's rows by confidence descending, unused rows zero (OpenCV's
layout). With ``keep_top_k: -1`` (which OpenCV refuses) there is one row per detection.

OpenCV's rules, followed here: background class skipped; confidences strictly above
``confidence_threshold`` (0 when unset; SSD's Caffe used every box then), per-class NMS of
:mod:`._detection` with ``nms_param.top_k``; with one target class NMS stops at ``keep_top_k``;
across classes the ``keep_top_k`` best survive. Ties: NMS orders equal scores stably by prior
index; OpenCV's final cross-class sorts use ``std::sort``, whose order among equal scores is
unspecified, so rows of exactly equal confidence may come in another order than OpenCV's.
``clip`` is a field OpenCV reads from prototxt text although its proto lacks it.
``nms_param.eta`` (SSD's adaptive NMS) and ``save_output_param`` are not used, as in OpenCV.

Inference only: asking for a gradient through this layer raises NetError.
"""
import warnings

import numpy as np
import torch

from ..errors import NetError
from . import _detection as det
from .base import Layer, count
from .registry import register_layer


class _NoBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out, name, *bottoms):
        ctx.name = name
        return out

    @staticmethod
    def backward(ctx, *grads):
        raise NetError(f"layer '{ctx.name}': DetectionOutput has no backward (inference only)")


def no_backward(out, name, bottoms):
    """``out`` unchanged, but a backward pass through it raises NetError naming the layer."""
    if torch.is_grad_enabled() and any(b.requires_grad for b in bottoms):
        return _NoBackward.apply(out, name, *bottoms)
    return out


@register_layer("DetectionOutput")
class DetectionOutput(Layer):
    min_bottoms = 3
    max_bottoms = 4
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        p = param.detection_output_param
        if not p.HasField("num_classes"):
            self.fail("detection_output_param.num_classes is required")
        self.num_classes = int(p.num_classes)
        self.share = p.share_location
        self.num_loc = 1 if self.share else self.num_classes
        self.background = int(p.background_label_id)
        if self.share and self.background == -1:
            self.fail("background_label_id -1 with share_location skips the shared location "
                      "predictions (SSD's Caffe and OpenCV fail on it too); for no background "
                      "class give an id outside [0, num_classes)")
        self.code_type = p.code_type
        self.encoded = p.variance_encoded_in_target
        self.keep_top_k = int(p.keep_top_k)
        self.threshold = float(p.confidence_threshold) if p.HasField("confidence_threshold") \
            else 0.0
        self.nms_threshold = float(p.nms_param.nms_threshold)
        if not self.nms_threshold > 0:
            self.fail(f"nms_param.nms_threshold must be positive, got {self.nms_threshold}")
        self.top_k = int(p.nms_param.top_k) if p.nms_param.HasField("top_k") else -1
        self.normalized = p.normalized_bbox
        self.clip = p.clip
        if p.nms_param.HasField("eta") and p.nms_param.eta != 1.0:
            warnings.warn(f"layer '{self.name}': nms_param.eta {p.nms_param.eta:g} is not used "
                          "(OpenCV's dnn runs plain NMS; SSD's Caffe would lower the threshold "
                          "adaptively)", det.DetectionWarning, stacklevel=2)
        if self.clip and not self.normalized and len(bottom_shapes) < 4:
            self.fail("clip of boxes in pixels (normalized_bbox: false) needs the image as a "
                      "4th bottom")
        n = self.bottom_shapes[0][0] if self.bottom_shapes[0] else 1
        self._check(self.bottom_shapes)
        self.batch = n

    def _check(self, shapes):
        loc, conf, prior = shapes[:3]
        if len(prior) < 3 or prior[2] % 4:
            self.fail(f"priors must have shape (1, 2, P * 4), got {prior}")
        p = prior[2] // 4
        if loc[0] != conf[0]:
            self.fail(f"location {loc} and confidence {conf} bottoms have different batch sizes")
        if count(loc, 1) != p * self.num_loc * 4:
            self.fail(f"location bottom {loc} should hold {p} priors x {self.num_loc} location "
                      f"class(es) x 4 = {p * self.num_loc * 4} values per image")
        if count(conf, 1) != p * self.num_classes:
            self.fail(f"confidence bottom {conf} should hold {p} priors x {self.num_classes} "
                      f"classes = {p * self.num_classes} values per image")
        if prior[1] != (1 if self.encoded else 2):
            self.fail(f"priors {prior} must have {1 if self.encoded else 2} channel(s) "
                      f"(variance_encoded_in_target: {str(self.encoded).lower()})")
        return p

    def top_shapes(self, bottom_shapes):
        self._check(bottom_shapes)
        rows = self.keep_top_k * bottom_shapes[0][0] if self.keep_top_k >= 0 else 1
        return [(1, 1, rows, 7)]

    def forward(self, loc, conf, prior, image=None):
        bottoms = [b for b in (loc, conf, prior, image) if b is not None]
        shapes = [tuple(b.shape) for b in bottoms]
        p = self._check(shapes)
        if loc.device.type == "meta":
            return torch.empty(self.top_shapes(shapes)[0], dtype=loc.dtype, device="meta")
        n = loc.shape[0]
        loc_np = loc.detach().cpu().numpy().astype(np.float32).reshape(n, p, self.num_loc, 4)
        conf_np = conf.detach().cpu().numpy().astype(np.float32).reshape(n, p, self.num_classes)
        prior_np = prior.detach().cpu().numpy().astype(np.float32).reshape(-1, p * 4)
        boxes = prior_np[0].reshape(p, 4)
        var = None if self.encoded else prior_np[1].reshape(p, 4)
        bounds = None
        if self.clip:
            bounds = (1.0, 1.0) if self.normalized else \
                (float(image.shape[3] - 1), float(image.shape[2] - 1))
        rows = [self._image(i, loc_np[i], conf_np[i], boxes, var, bounds) for i in range(n)]
        rows = np.concatenate(rows) if rows else np.zeros((0, 7), np.float32)
        total = self.keep_top_k * n if self.keep_top_k >= 0 else len(rows)
        out = np.zeros((1, 1, max(total, len(rows)), 7), np.float32)
        out[0, 0, :len(rows)] = rows
        top = torch.from_numpy(out).to(device=loc.device, dtype=loc.dtype)
        return no_backward(top, self.name, bottoms)

    def _image(self, i, loc, conf, priors, var, bounds):
        """Rows of image ``i``: OpenCV's processDetections_ and outputDetections_."""
        decoded = {}
        for c in range(self.num_loc):
            label = -1 if self.share else c
            if label == self.background:
                continue
            b = det.decode(priors, var, loc[:, c], self.code_type, self.encoded,
                           self.normalized, bounds)
            decoded[label] = (b, det.box_size(*b.T, self.normalized))
        targets = self.num_classes - (1 if 0 <= self.background < self.num_classes else 0)
        limit = self.keep_top_k if targets == 1 else None
        indices = {}
        for c in range(self.num_classes):
            if c == self.background:
                continue
            b, sizes = decoded[-1 if self.share else c]
            indices[c] = det.nms(b, sizes, conf[:, c], self.threshold, self.nms_threshold,
                                 self.top_k, self.normalized, limit)
        found = [(c, j) for c in sorted(indices) for j in indices[c]]
        if 0 <= self.keep_top_k < len(found):
            scores = np.array([conf[j, c] for c, j in found], np.float32)
            best = np.argsort(-scores, kind="stable")[:self.keep_top_k]
            chosen = {}
            for k in best:
                c, j = found[k]
                chosen.setdefault(c, []).append(j)
            found = [(c, j) for c in sorted(chosen) for j in chosen[c]]
        cs = np.array([c for c, _ in found], np.int64)
        js = np.array([j for _, j in found], np.int64)
        scores = conf[js, cs]
        order = np.argsort(-scores, kind="stable")
        cs, js = cs[order], js[order]
        rows = np.zeros((len(found), 7), np.float32)
        rows[:, 0] = i
        rows[:, 1] = cs
        rows[:, 2] = scores[order]
        for c in np.unique(cs):          # each label's boxes from its decoded set
            at = cs == c
            rows[at, 3:] = decoded[-1 if self.share else int(c)][0][js[at]]
        return rows

