"""Proposal (Faster R-CNN) through the helper ``proposals``: OpenCV 4's region proposals
(anchors of the layer's ratios and scales, CENTER_SIZE decoding in pixels clipped to
``im_info``, NMS). The anchor sizes are the ones the layer computed (float32 values, written
out). Inference only: the tops carry no gradient, as Caffe's layer has no backward."""
from ....rules import proposal as proposal_rules
from ....rules.fields import declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "Proposal", "ProposalParameter", proposal_rules.FIELDS,
        no_effect=proposal_rules.NO_EFFECT)


@register_emitter("Proposal")
def proposal(e):
    m = e.module
    e.inference_only()
    widths = literal([float(v) for v in m.anchor_w])
    heights = literal([float(v) for v in m.anchor_h])
    call = (f"{e.helper('proposals')}({', '.join(e.bottoms)}, {widths}, {heights}, "
            f"{literal(float(m.offset))}, {m.stride}, {m.pre}, {m.post}, "
            f"{literal(m.nms_threshold)})")
    if len(e.node.tops) == 2:
        return call
    return f"{call}[0]"
