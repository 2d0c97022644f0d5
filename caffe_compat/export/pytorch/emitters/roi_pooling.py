"""ROIPooling (Fast R-CNN) through the helper ``roi_pool``: OpenCV 4's ROI max pooling with
its float32 bin geometry (corners scaled and rounded half away from zero, bins from
``trunc(i r)`` to ``ceil((i + 1) r)``, empty bins 0); the gradient goes to each bin's
maximum, none to the ROIs."""
from ....rules.fields import declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "ROIPooling", "ROIPoolingParameter",
        {"pooled_h", "pooled_w", "spatial_scale"})


@register_emitter("ROIPooling")
def roi_pooling(e):
    m = e.module
    feat, rois = e.bottoms
    return (f"{e.helper('roi_pool')}({feat}, {rois}, {literal(tuple(m.pooled))}, "
            f"{literal(float(m.scale))})")
