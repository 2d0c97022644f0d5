"""ROIPooling (Fast R-CNN) and PSROIPooling (R-FCN): pooling over bins laid over each ROI,
OpenCV 4 dnn's ROI and PSROI modes of its PoolingLayer (the rules in
:mod:`caffe_compat.rules.roi_pooling`). Backward: autograd.

ROIPooling: max over a ``pooled_h x pooled_w`` grid of bins. Bottoms: features
``(N, C, H, W)`` and ROIs ``(R, 5)`` rows ``[batch index, x1, y1, x2, y2]`` in image pixels.
Top ``(R, C, pooled_h, pooled_w)``. The ROI corners are scaled by ``spatial_scale`` and
rounded half away from zero; the ROI spans ``max(end - start + 1, 1)`` cells; bin ``i``
covers ``[start + trunc(i * r), start + ceil((i + 1) * r))`` with ``r = span / pooled``
(float32), clipped to the map; an empty bin gives 0; the gradient goes to the maximum of each
bin.

PSROIPooling: position-sensitive average pooling. Bottoms: score maps
``(N, output_dim * k * k, H, W)`` (``k = group_size``) and ROIs ``(R, 5)`` ``[batch index,
x1, y1, x2, y2]``. Top ``(R, output_dim, k, k)``. The ROI runs from ``round(x1) *
spatial_scale`` to ``round(x2 + 1) * spatial_scale`` (rounding half away from zero,
float32), at least 0.1 wide; bin ``(i, j)`` covers ``[floor(start + i * r), ceil(start +
(i + 1) * r))`` clipped to the map and averages channel ``(c * k + i) * k + j`` of the maps;
an empty bin gives 0.
"""
import math

import numpy as np
import torch

from .base import Layer
from .registry import register_layer
from ..rules.fields import declare
from ..rules.roi_pooling import PSROI_FIELDS, ROI_FIELDS, psroi_pooling_rule, roi_pooling_rule

declare("torch", "ROIPooling", "ROIPoolingParameter", ROI_FIELDS)
declare("torch", "PSROIPooling", "PSROIPoolingParameter", PSROI_FIELDS)

F32 = np.float32


def round_half_away(v):
    """OpenCV's roundRoiSize: ``(int)(v + (v >= 0 ? 0.5f : -0.5f))`` on float32 values."""
    v = F32(v)
    return int(v + (F32(0.5) if v >= 0 else F32(-0.5)))


def roi_bins(start, end, pooled, size):
    """[(lo, hi)] per bin along one axis for an ROI from cell ``start`` to ``end``."""
    span = max(end - start + 1, 1)
    ratio = F32(span) / F32(pooled)
    out = []
    for i in range(pooled):
        lo = int(F32(start) + F32(i) * ratio)
        hi = start + int(math.ceil(F32(i + 1) * ratio))
        out.append((max(lo, 0), min(hi, size)))
    return out


def _psroi_bins(start, end, k, size):
    span = max(F32(end - start), F32(0.1))
    ratio = F32(span / F32(k))
    out = []
    for i in range(k):
        lo = int(math.floor(F32(start + F32(i) * ratio)))
        hi = int(math.ceil(F32(start + F32(i + 1) * ratio)))
        out.append((max(lo, 0), min(hi, size)))
    return out


class ROILayer(Layer):
    """ROIPooling's and PSROIPooling's loop over the ROIs (``self.rule``: the type's record of
    :mod:`caffe_compat.rules.roi_pooling`); :meth:`pool` gives one ROI's top."""
    rule_reads_bottoms = True
    exact_bottoms = 2
    exact_tops = 1

    def forward(self, feat, rois):
        if feat.device.type == "meta":
            return torch.empty(self.top_shapes([feat.shape, rois.shape])[0], dtype=feat.dtype,
                               device="meta")
        n = feat.shape[0]
        outs = []
        for r in rois.detach().cpu().numpy().astype(F32):
            if not 0 <= int(r[0]) < n:
                self.fail(f"ROI batch index {r[0]:g} is outside the batch of {n}")
            outs.append(self.pool(feat, int(r[0]), r))
        if not outs:
            return feat.new_zeros(self.top_shapes([feat.shape, rois.shape])[0])
        return torch.stack(outs)


@register_layer("ROIPooling")
class ROIPooling(ROILayer):
    rule_of = staticmethod(roi_pooling_rule)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.pooled, self.scale = self.rule.pooled, self.rule.scale

    def pool(self, feat, b, r):
        _, c, h, w = feat.shape
        ph, pw = self.pooled
        x0, y0, x1, y1 = (round_half_away(v * self.scale) for v in r[1:])
        ys, xs = roi_bins(y0, y1, ph, h), roi_bins(x0, x1, pw, w)
        cells = []
        for ylo, yhi in ys:
            for xlo, xhi in xs:
                if ylo >= yhi or xlo >= xhi:
                    cells.append(feat.new_zeros(c))
                else:
                    cells.append(feat[b, :, ylo:yhi, xlo:xhi].amax(dim=(1, 2)))
        return torch.stack(cells, 1).reshape(c, ph, pw)


@register_layer("PSROIPooling")
class PSROIPooling(ROILayer):
    rule_of = staticmethod(psroi_pooling_rule)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule
        self.dim, self.k, self.scale = rule.dim, rule.k, rule.scale

    def pool(self, feat, b, r):
        n, _, h, w = feat.shape
        k = self.k
        maps = feat.reshape(n, self.dim, k, k, h, w)
        x0 = F32(round_half_away(r[1])) * self.scale
        y0 = F32(round_half_away(r[2])) * self.scale
        x1 = F32(round_half_away(r[3] + F32(1))) * self.scale
        y1 = F32(round_half_away(r[4] + F32(1))) * self.scale
        ys, xs = _psroi_bins(y0, y1, k, h), _psroi_bins(x0, x1, k, w)
        cells = []
        for i, (ylo, yhi) in enumerate(ys):
            for j, (xlo, xhi) in enumerate(xs):
                if ylo >= yhi or xlo >= xhi:
                    cells.append(feat.new_zeros(self.dim))
                else:
                    cells.append(maps[b, :, i, j, ylo:yhi, xlo:xhi].mean(dim=(1, 2)))
        return torch.stack(cells, 1).reshape(self.dim, k, k)
