"""PSROIPooling (R-FCN): position-sensitive average pooling; OpenCV 4 dnn's PSROI mode of its
PoolingLayer.

Bottoms: score maps ``(N, output_dim * k * k, H, W)`` (``k = group_size``) and ROIs ``(R, 5)``
``[batch index, x1, y1, x2, y2]``. Top ``(R, output_dim, k, k)``. The ROI runs from
``round(x1) * spatial_scale`` to ``round(x2 + 1) * spatial_scale`` (rounding half away from
zero, float32), at least 0.1 wide; bin ``(i, j)`` covers ``[floor(start + i * r),
ceil(start + (i + 1) * r))`` clipped to the map and averages channel
``(c * k + i) * k + j`` of the maps; an empty bin gives 0. Backward: autograd.
"""
import math

import numpy as np
import torch

from .registry import register_layer
from .roi_pooling import ROILayer, round_half_away
from ..rules.fields import declare
from ..rules.roi_pooling import PSROI_FIELDS, psroi_pooling_rule

declare("torch", "PSROIPooling", "PSROIPoolingParameter", PSROI_FIELDS)

F32 = np.float32


def _bins(start, end, k, size):
    span = max(F32(end - start), F32(0.1))
    ratio = F32(span / F32(k))
    out = []
    for i in range(k):
        lo = int(math.floor(F32(start + F32(i) * ratio)))
        hi = int(math.ceil(F32(start + F32(i + 1) * ratio)))
        out.append((max(lo, 0), min(hi, size)))
    return out


@register_layer("PSROIPooling")
class PSROIPooling(ROILayer):

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = psroi_pooling_rule(param, self.bottom_shapes)
        self.dim, self.k, self.scale = rule.dim, rule.k, rule.scale

    def pool(self, feat, b, r):
        n, _, h, w = feat.shape
        k = self.k
        maps = feat.reshape(n, self.dim, k, k, h, w)
        x0 = F32(round_half_away(r[1])) * self.scale
        y0 = F32(round_half_away(r[2])) * self.scale
        x1 = F32(round_half_away(r[3] + F32(1))) * self.scale
        y1 = F32(round_half_away(r[4] + F32(1))) * self.scale
        ys, xs = _bins(y0, y1, k, h), _bins(x0, x1, k, w)
        cells = []
        for i, (ylo, yhi) in enumerate(ys):
            for j, (xlo, xhi) in enumerate(xs):
                if ylo >= yhi or xlo >= xhi:
                    cells.append(feat.new_zeros(self.dim))
                else:
                    cells.append(maps[b, :, i, j, ylo:yhi, xlo:xhi].mean(dim=(1, 2)))
        return torch.stack(cells, 1).reshape(self.dim, k, k)
