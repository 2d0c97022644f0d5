"""PriorBox (SSD) and PriorBoxClustered: the default boxes of one feature map, as OpenCV 4
dnn's PriorBoxLayer computes them (float32 throughout).

Bottoms: the feature map ``(N, C, H, W)`` and the image ``(N, C', H_img, W_img)``; only their
shapes are read. Top ``(1, 2, H * W * K * 4)``: channel 0 the boxes ``[xmin, ymin, xmax, ymax]``
for every cell (row-major), box kind and offset; channel 1 the variances.

Box kinds: ``min_size``; then ``sqrt(min_size * max_size)`` when ``max_size`` is given; then
``min_size * sqrt(r)`` by ``min_size / sqrt(r)`` for each aspect ratio ``r`` (1 and repeats
within 1e-6 dropped, ``1 / r`` added after ``r`` with ``flip``). Or the explicit ``width`` /
``height`` lists (PriorBoxClustered; no min_size, max_size or aspect_ratio then).
Centres ``((w + offset) * step_x, (h + offset) * step_y)`` with ``step`` (or ``step_h`` /
``step_w``), by default image size / feature size; several ``offset_h`` / ``offset_w`` give
several boxes per kind. Normalized by the image size; ``clip`` clamps every coordinate to
``[0, 1]``. Variances: one value for all four, or four; 0.1 when none is given (OpenCV refuses a
PriorBox without ``variance``).

``img_size`` / ``img_h`` / ``img_w`` are not used, as in OpenCV (SSD's Caffe would normalize by
them and derive the step from them): a warning names them when they are set.
"""
import warnings

import torch

from ..rules.prior_box import FIELDS, IMG_SIZE, PriorRule
from ._detection import DetectionWarning
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", FIELDS,
        no_effect=dict.fromkeys(IMG_SIZE, "not read by OpenCV's dnn, whose rule "
                                "the layer follows (a warning names it)"))


@register_layer("PriorBox")
class PriorBox(Layer):
    exact_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        for shape, what in zip(self.bottom_shapes, ("feature map", "image")):
            if len(shape) != 4:
                self.fail(f"the {what} bottom must have 4 axes, got {shape}")
        self.rule = PriorRule(param.prior_box_param, self.fail)
        for name in ("flip", "clip", "box_w", "box_h", "step", "off_x", "off_y", "variance"):
            setattr(self, name, getattr(self.rule, name))
        ignored = self.rule.img_size
        if ignored:
            warnings.warn(f"layer '{self.name}': prior_box_param {', '.join(ignored)} not used "
                          "(OpenCV's dnn normalizes by the image bottom's size; SSD's Caffe "
                          "would use the given size)", DetectionWarning, stacklevel=2)
        self._cache = {}

    def top_shapes(self, bottom_shapes):
        h, w = bottom_shapes[0][2:]
        return [(1, 2, h * w * self.rule.num_priors * 4)]

    def priors(self, layer_hw, image_hw):
        """The (2, H * W * K * 4) float32 array for these sizes."""
        key = (tuple(layer_hw), tuple(image_hw))
        if key not in self._cache:
            self._cache[key] = self.rule.compute(*key)
        return self._cache[key]

    def forward(self, feature, image):
        out = self.priors(tuple(feature.shape[2:]), tuple(image.shape[2:]))
        if feature.device.type == "meta":
            return torch.empty((1,) + out.shape, dtype=feature.dtype, device="meta")
        return torch.from_numpy(out[None]).to(device=feature.device, dtype=feature.dtype)


@register_layer("PriorBoxClustered")
class PriorBoxClustered(PriorBox):
    """OpenCV registers its PriorBox class under this name too (priors of explicit sizes)."""
