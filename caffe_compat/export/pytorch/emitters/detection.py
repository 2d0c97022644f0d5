"""The SSD types that come before its DetectionOutput: Normalize (NormalizeBBox) through the
helper ``l2_normalize`` with its learned scale, and PriorBox / PriorBoxClustered as a constant
buffer holding the priors the built net computed (the export keeps the deploy file's geometry,
as the ONNX export; the priors do not depend on the batch). DetectionOutput has its own
module (:mod:`.detection_output`).
"""
import torch

from ....rules.fields import declare
from ...fields import PRIOR_BOX, PRIOR_BOX_NO_EFFECT, fillers
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "channel_shared", "eps"}, no_effect=fillers("NormalizeBBoxParameter"))
declare("pytorch-source", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", PRIOR_BOX,
        no_effect=PRIOR_BOX_NO_EFFECT)


@register_emitter("Normalize", "NormalizeBBox")
def normalize(e):
    m = e.module
    attr = e.parameters(scale=e.weight(m.scale, 0))
    args = [e.bottoms[0], f"{attr}.scale"]
    if not m.across_spatial:
        args.append("across_spatial=False")
    if m.eps != 1e-10:
        args.append(f"eps={literal(m.eps)}")
    return f"{e.helper('l2_normalize')}({', '.join(args)})"


@register_emitter("PriorBox", "PriorBoxClustered")
def prior_box(e):
    feat, image = e.bottom_shapes[:2]
    priors = torch.as_tensor(e.module.priors(tuple(feat[2:]), tuple(image[2:])),
                             dtype=torch.float32)[None]
    return e.buffer(priors)
