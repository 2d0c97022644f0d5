"""ROIPooling's and PSROIPooling's rules as OpenCV 4 dnn's PoolingLayer sets up its ROI and
PSROI modes, read by every engine. Bottoms: maps ``(N, C, H, W)`` and ROIs ``(R, 5)`` rows
``[batch index, x1, y1, x2, y2]``. ROIPooling: ``roi_pooling_param``'s ``pooled_h`` and
``pooled_w`` (positive) and ``spatial_scale`` (float32); top ``(R, C, pooled_h, pooled_w)``.
PSROIPooling: ``psroi_pooling_param``'s ``output_dim`` and ``group_size`` k (positive) and
``spatial_scale``; the maps have ``output_dim k k`` channels; top ``(R, output_dim, k, k)``.
"""
from __future__ import annotations

import numpy as np

from .record import frozen
from .refusal import refuse

ROI_FIELDS = frozenset({"pooled_h", "pooled_w", "spatial_scale"})
PSROI_FIELDS = frozenset({"spatial_scale", "output_dim", "group_size"})


def _bottoms(layer, bottom_shapes, maps):
    feat, rois = (tuple(s) for s in bottom_shapes)
    if len(feat) != 4 or len(rois) != 2 or rois[1] != 5:
        refuse(layer, f"bottoms must be {maps} (N, C, H, W) and ROIs (R, 5), got {feat} and "
               f"{rois}")
    return feat, rois


@frozen
class ROIPoolingRule:
    layer: object
    pooled: tuple           # (pooled_h, pooled_w)
    scale: object           # float32 spatial_scale

    def top_shape(self, bottom_shapes):
        feat, rois = _bottoms(self.layer, bottom_shapes, "features")
        return (rois[0], feat[1]) + self.pooled


@frozen
class PSROIPoolingRule:
    layer: object
    dim: int                # output_dim
    k: int                  # group_size
    scale: object           # float32 spatial_scale

    def top_shape(self, bottom_shapes):
        feat, rois = _bottoms(self.layer, bottom_shapes, "score maps")
        if feat[1] != self.dim * self.k * self.k:
            refuse(self.layer, f"the score maps have {feat[1]} channels; output_dim x "
                   f"group_size^2 = {self.dim * self.k * self.k} are needed")
        return (rois[0], self.dim, self.k, self.k)


def roi_pooling_rule(layer, bottom_shapes=None):
    p = layer.roi_pooling_param
    if not (p.pooled_h > 0 and p.pooled_w > 0):
        refuse(layer, "roi_pooling_param.pooled_h and pooled_w must be positive")
    rule = ROIPoolingRule(layer, (int(p.pooled_h), int(p.pooled_w)), np.float32(p.spatial_scale))
    if bottom_shapes is not None:
        rule.top_shape(bottom_shapes)
    return rule


def psroi_pooling_rule(layer, bottom_shapes=None):
    p = layer.psroi_pooling_param
    if p.output_dim <= 0 or p.group_size <= 0:
        refuse(layer, "psroi_pooling_param.output_dim and group_size must be positive")
    rule = PSROIPoolingRule(layer, int(p.output_dim), int(p.group_size),
                            np.float32(p.spatial_scale))
    if bottom_shapes is not None:
        rule.top_shape(bottom_shapes)
    return rule
