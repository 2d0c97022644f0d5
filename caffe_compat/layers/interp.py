"""Interp (PSPNet / DeepLab / ICNet Caffe forks): bilinear resize with aligned corners.

Output size (the fork's rule): ``height``/``width`` when both are given; else from the input
size cropped by ``pad_beg``/``pad_end`` (zero or negative), shrunk by ``shrink_factor``
(``(h - 1) / s + 1``) and then zoomed by ``zoom_factor`` (``h + (h - 1) * (z - 1)``); with none
of these, the size of a second bottom. Sampling: output position ``i`` reads the cropped input
at ``i * (h_in - 1) / (h_out - 1)``, interpolating linearly between its two neighbours.

OpenCV 4 dnn reads zoom_factor, height and width but ignores shrink_factor, pad_beg and pad_end
(measured with OpenCV 4.14: a shrink_factor 2 + zoom_factor 3 layer on 4 x 5 gives 10 x 13 there,
4 x 4 in the fork); this layer follows the fork. Backward: autograd.
"""
import torch.nn.functional as F

from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Interp", "InterpParameter",
        {"height", "width", "zoom_factor", "shrink_factor", "pad_beg", "pad_end"})


@register_layer("Interp")
class Interp(Layer):
    min_bottoms = 1
    max_bottoms = 2
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        p = param.interp_param
        if p.pad_beg > 0 or p.pad_end > 0:
            self.fail("only zero or negative pad_beg/pad_end (cropping) are supported, as in "
                      "the fork")
        for f in ("zoom_factor", "shrink_factor"):
            if p.HasField(f) and getattr(p, f) < 1:
                self.fail(f"{f} must be at least 1, got {getattr(p, f)}")
        self.top_shapes(self.bottom_shapes)

    def _size(self, shapes):
        p = self.param.interp_param
        h, w = shapes[0][2:4]
        h, w = h + p.pad_beg + p.pad_end, w + p.pad_beg + p.pad_end
        if p.HasField("height") and p.HasField("width"):
            return (p.height, p.width)
        if p.HasField("shrink_factor") or p.HasField("zoom_factor"):
            if p.HasField("shrink_factor"):
                h, w = (h - 1) // p.shrink_factor + 1, (w - 1) // p.shrink_factor + 1
            if p.HasField("zoom_factor"):
                h, w = h + (h - 1) * (p.zoom_factor - 1), w + (w - 1) * (p.zoom_factor - 1)
            return (h, w)
        if len(shapes) == 2:
            return tuple(shapes[1][2:4])
        self.fail("interp_param needs height and width, zoom_factor or shrink_factor, or a "
                  "second bottom giving the size")

    def top_shapes(self, bottom_shapes):
        shape = tuple(bottom_shapes[0])
        if len(shape) != 4:
            self.fail(f"input must have 4 axes, got {shape}")
        h, w = self._size(bottom_shapes)
        if h < 1 or w < 1:
            self.fail(f"output size {h} x {w} is empty")
        return [shape[:2] + (h, w)]

    def forward(self, x, reference=None):
        p = self.param.interp_param
        shapes = [tuple(x.shape)] + ([tuple(reference.shape)] if reference is not None else [])
        size = self._size(shapes)
        b, e = -p.pad_beg, x.shape[2] + p.pad_end
        bw, ew = -p.pad_beg, x.shape[3] + p.pad_end
        x = x[:, :, b:e, bw:ew]
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
