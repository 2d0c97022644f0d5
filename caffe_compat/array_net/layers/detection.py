"""SSD's deploy layers on arrays, by the rules every engine reads
(:mod:`caffe_compat.rules.prior_box`, :mod:`caffe_compat.rules.detection_output`):

* PriorBox / PriorBoxClustered: the default boxes of the feature map's and the image's sizes
  (only the bottoms' shapes are read), ``(1, 2, H * W * K * 4)``: boxes, then variances;
* Normalize / NormalizeBBox: ``x / sqrt(sum of x^2 + eps)`` over each item (``across_spatial``)
  or over the channels at each position, times the scale blob (one value, or one per channel);
* DetectionOutput: boxes decoded against the priors, per-class NMS and top-k, rows of
  ``[image, label, score, xmin, ymin, xmax, ymax]``.

None of them has a backward here (Caffe's DetectionOutput and PriorBox have none; a backward
through Normalize goes to the torch engine). ``img_size`` fields of PriorBox and
``nms_param.eta`` go to the torch engine, which warns about them.
"""
import math

import numpy as np

from ...rules import detection_output as detection_rules, prior_box as prior_rules
from ...rules import normalize as normalize_rules
from ...rules.detection_output import DetectionRule
from ...rules.fields import declare
from ...rules.normalize import normalize_rule
from ...rules.prior_box import PriorRule
from ..registry import Unsupported, register
from .base import ArrayLayer, RuleBlobsLayer, need

# img_size fields, nms_param.eta other than 1, keep_top_k -1 and the fillers it does not draw
# go to the torch engine
declare("array", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", prior_rules.FIELDS,
        refuses=prior_rules.IMG_SIZE)
declare("array", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        normalize_rules.FIELDS - {"scale_filler"}, refuses={"scale_filler"})
declare("array", "DetectionOutput", "DetectionOutputParameter",
        detection_rules.FIELDS - {"nms_param", "keep_top_k"}, refuses={"nms_param", "keep_top_k"},
        no_effect=detection_rules.NO_EFFECT)

F32 = np.float32


def _refuse(message):
    raise Unsupported(message)


@register("PriorBox")
@register("PriorBoxClustered")
class PriorBox(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        need(len(bottom_shapes) == 2 and len(param.top) == 1, "PriorBox of two bottoms")
        need(all(len(s) == 4 for s in bottom_shapes), "PriorBox bottoms of 4 axes")
        self.rule = PriorRule(param.prior_box_param, _refuse)
        need(not self.rule.img_size,
             f"layer '{self.name}': img_size fields (the torch engine warns)")
        self._cache = {}

    def top_shapes(self, bottom_shapes):
        h, w = bottom_shapes[0][2:]
        return [(1, 2, int(h) * int(w) * self.rule.num_priors * 4)]

    def forward(self, bottoms, tops, params):
        key = (tuple(bottoms[0].shape[2:]), tuple(bottoms[1].shape[2:]))
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self.rule.compute(*key)
        tops[0][0] = got


@register("Normalize")
@register("NormalizeBBox")
class Normalize(RuleBlobsLayer):
    one_bottom = True
    rule_of = staticmethod(normalize_rule)

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.across, self.shared = rule.across_spatial, rule.channel_shared
        self.eps = F32(rule.eps)

    def param_shapes(self):
        return [self.rule.scale_shape()]

    def forward(self, bottoms, tops, params):
        x, y = bottoms[0], tops[0]
        squares = np.square(x)
        if self.across:
            total = squares.reshape(x.shape[0], -1).sum(axis=1, dtype=F32)
            norm = np.sqrt(total + self.eps).reshape((-1,) + (1,) * (x.ndim - 1))
        else:
            norm = np.sqrt(squares.sum(axis=1, keepdims=True, dtype=F32) + self.eps)
        np.divide(x, norm, out=y)
        scale = params[0]
        if self.shared:
            y *= scale[0]
        else:
            y *= scale.reshape((1, -1) + (1,) * (x.ndim - 2))


@register("DetectionOutput")
class DetectionOutput(ArrayLayer):

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        self.rule = DetectionRule(param.detection_output_param, _refuse)
        need(self.rule.eta == 1.0, f"layer '{self.name}': nms_param.eta (the torch engine warns)")
        need(len(bottom_shapes) in (3, 4) and len(param.top) == 1,
             f"layer '{self.name}': {len(bottom_shapes)} bottoms")
        need(not (self.rule.clip and not self.rule.normalized and len(bottom_shapes) < 4),
             f"layer '{self.name}': pixel boxes clipped without the image bottom")
        need(self.rule.keep_top_k >= 0,
             f"layer '{self.name}': keep_top_k -1 (a top whose length depends on the data)")

    def top_shapes(self, bottom_shapes):
        loc, conf, prior = (tuple(s) for s in bottom_shapes[:3])
        rule = self.rule
        need(len(prior) >= 3 and prior[2] % 4 == 0 and loc[0] == conf[0] and
             prior[1] == (1 if rule.encoded else 2), f"layer '{self.name}': bottoms")
        n_priors = prior[2] // 4
        need(math.prod(loc[1:]) == n_priors * rule.num_loc * 4 and
             math.prod(conf[1:]) == n_priors * rule.num_classes, f"layer '{self.name}': bottoms")
        self._image_hw = tuple(bottom_shapes[3][2:]) if len(bottom_shapes) == 4 else None
        return [(1, 1, detection_rules.output_rows(rule.keep_top_k, loc[0]), 7)]

    def forward(self, bottoms, tops, params):
        got = self.rule.detections(bottoms[0], bottoms[1], bottoms[2], self._image_hw)
        need(got.shape == tops[0].shape, f"layer '{self.name}': detections {got.shape}")
        tops[0][...] = got
