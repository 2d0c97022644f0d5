"""ROIPooling (Fast R-CNN) and PSROIPooling (R-FCN) through the helpers ``roi_pool`` and
``psroi_pool``, OpenCV 4's computations: ROIPooling is max pooling with its float32 bin geometry
(corners scaled and rounded half away from zero, bins from ``trunc(i r)`` to ``ceil((i + 1)
r)``, empty bins 0), the gradient going to each bin's maximum; PSROIPooling position-sensitive
average pooling (float32 bin geometry, at least 0.1 wide, bin ``(i, j)`` of output channel
``c`` reading channel ``(c k + i) k + j``, empty bins 0). No gradient reaches the ROIs."""
from ....rules.fields import declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "ROIPooling", "ROIPoolingParameter",
        {"pooled_h", "pooled_w", "spatial_scale"})
declare("pytorch-source", "PSROIPooling", "PSROIPoolingParameter",
        {"spatial_scale", "output_dim", "group_size"})


@register_emitter("ROIPooling")
def roi_pooling(e):
    m = e.module
    feat, rois = e.bottoms
    return (f"{e.helper('roi_pool')}({feat}, {rois}, {literal(tuple(m.pooled))}, "
            f"{literal(float(m.scale))})")


@register_emitter("PSROIPooling")
def psroi_pooling(e):
    m = e.module
    maps, rois = e.bottoms
    return (f"{e.helper('psroi_pool')}({maps}, {rois}, {m.dim}, {m.k}, "
            f"{literal(float(m.scale))})")
