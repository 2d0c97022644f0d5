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

import torch

from ..errors import NetError
from ..rules.detection_output import FIELDS, NO_EFFECT, DetectionRule, output_rows
from . import _detection as det
from .base import Layer, count
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "DetectionOutput", "DetectionOutputParameter", FIELDS,
        no_effect=NO_EFFECT)


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
        self.rule = DetectionRule(param.detection_output_param, self.fail, scan=det.scan)
        for name in ("num_classes", "share", "num_loc", "background", "code_type", "encoded",
                     "keep_top_k", "threshold", "nms_threshold", "top_k", "normalized",
                     "clip"):
            setattr(self, name, getattr(self.rule, name))
        if self.rule.eta != 1.0:
            warnings.warn(f"layer '{self.name}': nms_param.eta {self.rule.eta:g} is not used "
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
        return [(1, 1, output_rows(self.keep_top_k, bottom_shapes[0][0]), 7)]

    def forward(self, loc, conf, prior, image=None):
        bottoms = [b for b in (loc, conf, prior, image) if b is not None]
        shapes = [tuple(b.shape) for b in bottoms]
        self._check(shapes)
        if loc.device.type == "meta":
            return torch.empty(self.top_shapes(shapes)[0], dtype=loc.dtype, device="meta")
        image_hw = tuple(image.shape[2:]) if image is not None else None
        out = self.rule.detections(loc.detach().cpu().numpy(), conf.detach().cpu().numpy(),
                                   prior.detach().cpu().numpy(), image_hw)
        top = torch.from_numpy(out).to(device=loc.device, dtype=loc.dtype)
        return no_backward(top, self.name, bottoms)
