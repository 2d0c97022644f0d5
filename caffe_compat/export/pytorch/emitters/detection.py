"""The detection types: SSD's Normalize (NormalizeBBox), PriorBox / PriorBoxClustered and
DetectionOutput, Faster R-CNN's Proposal, ROIPooling and R-FCN's PSROIPooling.

Normalize goes through the helper ``l2_normalize`` with its learned scale; PriorBox /
PriorBoxClustered is a constant buffer holding the priors the built net computed (the export
keeps the deploy file's geometry, as the ONNX export; the priors do not depend on the batch).

DetectionOutput goes through the helper ``detect`` (with the rules' ``decode`` and ``nms``):
OpenCV 4's decoding in float32, per-class NMS, the ``keep_top_k`` best across classes, rows
``[image, label, confidence, xmin, ymin, xmax, ymax]`` in a (1, 1, keep_top_k N, 7) top.
``clip`` of boxes in pixels uses the image bottom's height and width of the deploy geometry.
Inference only: no gradient crosses it, as Caffe's layer has no backward.

Proposal goes through the helper ``proposals``: OpenCV 4's region proposals (anchors of the
layer's ratios and scales, CENTER_SIZE decoding in pixels clipped to ``im_info``, NMS). The
anchor sizes are the ones the layer computed (float32 values, written out). Inference only:
the tops carry no gradient, as Caffe's layer has no backward.

ROIPooling and PSROIPooling go through the helpers ``roi_pool`` and ``psroi_pool``, OpenCV 4's
computations: ROIPooling is max pooling with its float32 bin geometry (corners scaled and
rounded half away from zero, bins from ``trunc(i r)`` to ``ceil((i + 1) r)``, empty bins 0),
the gradient going to each bin's maximum; PSROIPooling position-sensitive average pooling
(float32 bin geometry, at least 0.1 wide, bin ``(i, j)`` of output channel ``c`` reading
channel ``(c k + i) k + j``, empty bins 0). No gradient reaches the ROIs.
"""
import torch

from ....rules import detection_output as detection_rules, proposal as proposal_rules
from ....rules.fields import declare
from ...fields import PRIOR_BOX, PRIOR_BOX_NO_EFFECT, fillers
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", ("Normalize", "NormalizeBBox"), "NormalizeBBoxParameter",
        {"across_spatial", "channel_shared", "eps"}, no_effect=fillers("NormalizeBBoxParameter"))
declare("pytorch-source", ("PriorBox", "PriorBoxClustered"), "PriorBoxParameter", PRIOR_BOX,
        no_effect=PRIOR_BOX_NO_EFFECT)
declare("pytorch-source", "DetectionOutput", "DetectionOutputParameter", detection_rules.FIELDS,
        no_effect=detection_rules.NO_EFFECT)
declare("pytorch-source", "Proposal", "ProposalParameter", proposal_rules.FIELDS,
        no_effect=proposal_rules.NO_EFFECT)
declare("pytorch-source", "ROIPooling", "ROIPoolingParameter",
        {"pooled_h", "pooled_w", "spatial_scale"})
declare("pytorch-source", "PSROIPooling", "PSROIPoolingParameter",
        {"spatial_scale", "output_dim", "group_size"})


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


@register_emitter("DetectionOutput")
def detection_output(e):
    m = e.module
    e.inference_only(rows=True)
    loc, conf, priors = e.bottoms[:3]
    args = [loc, conf, priors, str(m.num_classes), str(bool(m.share)), str(m.background),
            str(int(m.code_type)), str(bool(m.encoded)), str(m.keep_top_k),
            literal(m.threshold), literal(m.nms_threshold), str(m.top_k),
            str(bool(m.normalized))]
    if m.clip:
        if m.normalized:
            args.append("clip=(1.0, 1.0)")
        else:
            h, w = e.bottom_shapes[3][2:4]
            args.append(f"clip=({literal(float(w - 1))}, {literal(float(h - 1))})")
    return f"{e.helper('detect')}({', '.join(args)})"


@register_emitter("Proposal")
def proposal(e):
    m = e.module
    e.inference_only()
    widths = literal([float(v) for v in m.anchor_w])
    heights = literal([float(v) for v in m.anchor_h])
    call = (f"{e.helper('proposals')}({', '.join(e.bottoms)}, {widths}, {heights}, "
            f"{literal(float(m.offset))}, {m.stride}, {m.pre}, {m.post}, "
            f"{literal(m.nms_threshold)})")
    return call if len(e.node.tops) == 2 else f"{call}[0]"


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
