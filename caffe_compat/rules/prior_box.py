"""PriorBox's default boxes in numpy, without torch: the rule of
:class:`caffe_compat.layers.prior_box.PriorBox` (OpenCV 4 dnn's PriorBoxLayer, float32
throughout), shared by that layer and the torch-free path's converter, so that both compute
the same arrays. The module docstring of ``caffe_compat.layers.prior_box`` states the rule."""
from __future__ import annotations

import numpy as np

F32 = np.float32

# the fields the rule reads; IMG_SIZE (SSD's Caffe's image size) is not read, as in OpenCV
FIELDS = frozenset({"min_size", "max_size", "aspect_ratio", "flip", "clip", "variance", "step",
                    "step_h", "step_w", "offset", "offset_h", "offset_w", "width", "height"})
IMG_SIZE = ("img_size", "img_h", "img_w")


class PriorRule:
    """The settings of one PriorBox layer (``p``: its PriorBoxParameter); ``fail(message)``
    raises the caller's error for a bad setting. ``img_size``: the fields of :data:`IMG_SIZE`
    given (not read by the rule)."""

    def __init__(self, p, fail):
        self.img_size = [f for f in IMG_SIZE if p.HasField(f)]
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
            fail(f"width ({len(widths)} values) and height ({len(heights)} values) must "
                 "be given the same number of times")
        if widths:
            if ratios or p.HasField("min_size") or p.HasField("max_size"):
                fail("explicit width/height priors take no min_size, max_size or "
                     "aspect_ratio")
            self.box_w = np.array(widths, F32)
            self.box_h = np.array(heights, F32)
        else:
            if not p.HasField("min_size") or not p.min_size > 0:
                fail("prior_box_param.min_size must be given and positive")
            m = F32(p.min_size)
            w, h = [m], [m]
            if p.HasField("max_size"):
                if not p.max_size > p.min_size:
                    fail(f"max_size ({p.max_size:g}) must be larger than min_size "
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
                fail("give either step or step_h/step_w")
            if not (p.step_h > 0 and p.step_w > 0):
                fail("step_h and step_w must both be given and positive")
            self.step = (F32(p.step_h), F32(p.step_w))
        elif p.HasField("step"):
            if not p.step > 0:
                fail(f"step must be positive, got {p.step:g}")
            self.step = (F32(p.step), F32(p.step))
        else:
            self.step = None
        if len(p.offset_h) or len(p.offset_w):
            if p.HasField("offset") or len(p.offset_h) != len(p.offset_w) or not len(p.offset_h):
                fail("offset_h and offset_w must be given the same number of times, "
                     "without offset")
            self.off_y, self.off_x = np.array(p.offset_h, F32), np.array(p.offset_w, F32)
        else:
            self.off_y = self.off_x = np.array([p.offset], F32)
        variances = [F32(v) for v in p.variance]
        if len(variances) not in (0, 1, 4) or any(not v > 0 for v in variances):
            fail(f"variance must be given once or 4 times, positive, got {list(p.variance)}")
        self.variance = variances or [F32(0.1)]

    @property
    def num_priors(self):
        return len(self.box_w) * len(self.off_x)

    def compute(self, layer_hw, image_hw):
        """The (2, H * W * K * 4) float32 array for a feature map of ``layer_hw`` over an
        image of ``image_hw``."""
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
