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

import numpy as np
import torch

from ._detection import DetectionWarning
from .base import Layer
from .registry import register_layer

F32 = np.float32


@register_layer("PriorBox")
class PriorBox(Layer):
    exact_bottoms = 2
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        p = param.prior_box_param
        for shape, what in zip(self.bottom_shapes, ("feature map", "image")):
            if len(shape) != 4:
                self.fail(f"the {what} bottom must have 4 axes, got {shape}")
        self.flip, self.clip = p.flip, p.clip
        ratios = []
        for r in p.aspect_ratio:
            r = F32(r)
            if abs(r - F32(1)) < F32(1e-6) or any(abs(float(r) - float(q)) < 1e-6
                                                  for q in ratios):
                continue
            ratios.append(r)
            if self.flip:
                ratios.append(F32(1.0 / float(r)))
        widths, heights = list(p.width), list(p.height)
        if len(widths) != len(heights):
            self.fail(f"width ({len(widths)} values) and height ({len(heights)} values) must "
                      "be given the same number of times")
        if widths:
            if ratios or p.HasField("min_size") or p.HasField("max_size"):
                self.fail("explicit width/height priors take no min_size, max_size or "
                          "aspect_ratio")
            self.box_w = np.array(widths, F32)
            self.box_h = np.array(heights, F32)
        else:
            if not p.HasField("min_size") or not p.min_size > 0:
                self.fail("prior_box_param.min_size must be given and positive")
            m = F32(p.min_size)
            w, h = [m], [m]
            if p.HasField("max_size"):
                if not p.max_size > p.min_size:
                    self.fail(f"max_size ({p.max_size:g}) must be larger than min_size "
                              f"({p.min_size:g})")
                s = np.sqrt(m * F32(p.max_size), dtype=F32)
                w.append(s)
                h.append(s)
            for r in ratios:
                root = np.sqrt(r, dtype=F32)
                w.append(m * root)
                h.append(m / root)
            self.box_w, self.box_h = np.array(w, F32), np.array(h, F32)
        if p.HasField("step_h") or p.HasField("step_w"):
            if p.HasField("step"):
                self.fail("give either step or step_h/step_w")
            if not (p.step_h > 0 and p.step_w > 0):
                self.fail("step_h and step_w must both be given and positive")
            self.step = (F32(p.step_h), F32(p.step_w))
        elif p.HasField("step"):
            if not p.step > 0:
                self.fail(f"step must be positive, got {p.step:g}")
            self.step = (F32(p.step), F32(p.step))
        else:
            self.step = None
        if len(p.offset_h) or len(p.offset_w):
            if p.HasField("offset") or len(p.offset_h) != len(p.offset_w) or not len(p.offset_h):
                self.fail("offset_h and offset_w must be given the same number of times, "
                          "without offset")
            self.off_y, self.off_x = np.array(p.offset_h, F32), np.array(p.offset_w, F32)
        else:
            self.off_y = self.off_x = np.array([p.offset], F32)
        variances = [F32(v) for v in p.variance]
        if len(variances) not in (0, 1, 4) or any(not v > 0 for v in variances):
            self.fail(f"variance must be given once or 4 times, positive, got {list(p.variance)}")
        self.variance = variances or [F32(0.1)]
        ignored = [f for f in ("img_size", "img_h", "img_w") if p.HasField(f)]
        if ignored:
            warnings.warn(f"layer '{self.name}': prior_box_param {', '.join(ignored)} not used "
                          "(OpenCV's dnn normalizes by the image bottom's size; SSD's Caffe "
                          "would use the given size)", DetectionWarning, stacklevel=2)
        self._cache = {}

    @property
    def num_priors(self):
        return len(self.box_w) * len(self.off_x)

    def top_shapes(self, bottom_shapes):
        h, w = bottom_shapes[0][2:]
        return [(1, 2, h * w * self.num_priors * 4)]

    def priors(self, layer_hw, image_hw):
        """The (2, H * W * K * 4) float32 array for these sizes."""
        key = (tuple(layer_hw), tuple(image_hw))
        if key not in self._cache:
            self._cache[key] = self._compute(*key)
        return self._cache[key]

    def _compute(self, layer_hw, image_hw):
        lh, lw = layer_hw
        ih, iw = F32(image_hw[0]), F32(image_hw[1])
        step_y, step_x = self.step if self.step is not None else (ih / F32(lh), iw / F32(lw))
        ys = np.arange(lh, dtype=F32)[:, None, None, None]
        xs = np.arange(lw, dtype=F32)[None, :, None, None]
        cx = (xs + self.off_x[None, None, None, :]) * step_x        # (1, W, 1, O)
        cy = (ys + self.off_y[None, None, None, :]) * step_y        # (H, 1, 1, O)
        bw = self.box_w[None, None, :, None] * F32(0.5)
        bh = self.box_h[None, None, :, None] * F32(0.5)
        shape = (lh, lw, len(self.box_w), len(self.off_x))
        boxes = np.stack([np.broadcast_to((cx - bw) / iw, shape),
                          np.broadcast_to((cy - bh) / ih, shape),
                          np.broadcast_to((cx + bw) / iw, shape),
                          np.broadcast_to((cy + bh) / ih, shape)], axis=-1).astype(F32)
        boxes = boxes.reshape(-1)
        if self.clip:
            boxes = np.clip(boxes, F32(0), F32(1))
        var = np.tile(np.array(self.variance * (4 // len(self.variance)), F32),
                      boxes.size // 4)
        return np.stack([boxes, var])

    def forward(self, feature, image):
        out = self.priors(tuple(feature.shape[2:]), tuple(image.shape[2:]))
        if feature.device.type == "meta":
            return torch.empty((1,) + out.shape, dtype=feature.dtype, device="meta")
        return torch.from_numpy(out[None]).to(device=feature.device, dtype=feature.dtype)


@register_layer("PriorBoxClustered")
class PriorBoxClustered(PriorBox):
    """OpenCV registers its PriorBox class under this name too (priors of explicit sizes)."""
