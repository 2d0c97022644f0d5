"""Interp's rules (the PSPNet / DeepLab / ICNet Caffe forks' ``interp_layer.cpp``), read by every
engine: a bilinear resize with aligned corners of the input cropped by ``pad_beg`` /
``pad_end`` (zero or negative).

Output size: ``height`` and ``width`` when both are given; else the cropped input size, shrunk
by ``shrink_factor`` (``(h - 1) / s + 1``) and then zoomed by ``zoom_factor`` (``h + (h - 1)
(z - 1)``); with none of these, the size of a second bottom. Sampling: output position ``i``
reads the cropped input at ``i (h_in - 1) / (h_out - 1)``, linearly between its two
neighbours. Refusals, as the fork's CHECKs: a positive ``pad_beg`` / ``pad_end``, a factor
below 1, an input of other than 4 axes, no size given, an empty output.

OpenCV 4 dnn reads ``zoom_factor``, ``height`` and ``width`` but ignores ``shrink_factor``,
``pad_beg`` and ``pad_end`` (OpenCV 4.14: a ``shrink_factor: 2 zoom_factor: 3`` layer on 4 x 5
gives 10 x 13 there, 4 x 4 in the fork); these rules follow the fork.
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"height", "width", "zoom_factor", "shrink_factor", "pad_beg", "pad_end"})
_SECTION = "interp_param"


@frozen
class InterpRule:
    layer: object
    pad_beg: int
    pad_end: int

    def cropped(self, shape):
        """(first row / column read, rows, columns) of the input of ``shape`` after the crop."""
        h, w = int(shape[2]), int(shape[3])
        return -self.pad_beg, h + self.pad_beg + self.pad_end, w + self.pad_beg + self.pad_end

    def size(self, bottom_shapes):
        """The output's (height, width)."""
        p = self.layer.interp_param
        _, h, w = self.cropped(bottom_shapes[0])
        if p.HasField("height") and p.HasField("width"):
            return int(p.height), int(p.width)
        if p.HasField("shrink_factor") or p.HasField("zoom_factor"):
            if p.HasField("shrink_factor"):
                s = int(p.shrink_factor)
                h, w = (h - 1) // s + 1, (w - 1) // s + 1
            if p.HasField("zoom_factor"):
                z = int(p.zoom_factor)
                h, w = h + (h - 1) * (z - 1), w + (w - 1) * (z - 1)
            return h, w
        if len(bottom_shapes) == 2:
            return int(bottom_shapes[1][2]), int(bottom_shapes[1][3])
        refuse(self.layer, "interp_param needs height and width, zoom_factor or "
               "shrink_factor, or a second bottom giving the size", _SECTION)

    def top_shape(self, bottom_shapes):
        shape = tuple(int(d) for d in bottom_shapes[0])
        if len(shape) != 4:
            refuse(self.layer, f"input must have 4 axes, got {shape}")
        h, w = self.size(bottom_shapes)
        if h < 1 or w < 1:
            refuse(self.layer, f"output size {h} x {w} is empty", _SECTION)
        return shape[:2] + (h, w)


def interp_rule(layer, bottom_shapes):
    """The :class:`InterpRule` of ``layer``, refusing what the fork refuses (module doc)."""
    p = layer.interp_param
    if p.pad_beg > 0 or p.pad_end > 0:
        refuse(layer, "only zero or negative pad_beg/pad_end (cropping) are supported, as in "
               "the fork", f"{_SECTION}.pad_beg" if p.pad_beg > 0 else f"{_SECTION}.pad_end")
    for f in ("zoom_factor", "shrink_factor"):
        if p.HasField(f) and getattr(p, f) < 1:
            refuse(layer, f"{f} must be at least 1, got {getattr(p, f)}", f"{_SECTION}.{f}")
    rule = InterpRule(layer, int(p.pad_beg), int(p.pad_end))
    rule.top_shape(bottom_shapes)
    return rule
