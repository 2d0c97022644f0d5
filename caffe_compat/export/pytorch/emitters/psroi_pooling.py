"""PSROIPooling (R-FCN) through the helper ``psroi_pool``: OpenCV 4's position-sensitive
average pooling (float32 bin geometry, at least 0.1 wide, bin ``(i, j)`` of output channel
``c`` reading channel ``(c k + i) k + j``, empty bins 0); no gradient to the ROIs."""
from ....rules.fields import declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "PSROIPooling", "PSROIPoolingParameter",
        {"spatial_scale", "output_dim", "group_size"})


@register_emitter("PSROIPooling")
def psroi_pooling(e):
    m = e.module
    maps, rois = e.bottoms
    return (f"{e.helper('psroi_pool')}({maps}, {rois}, {m.dim}, {m.k}, "
            f"{literal(float(m.scale))})")
