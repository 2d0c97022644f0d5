"""DetectionOutput (SSD) through the helper ``detect`` (with the rules' ``decode`` and ``nms``):
OpenCV 4's decoding in float32, per-class NMS, the ``keep_top_k`` best across classes, rows
``[image, label, confidence, xmin, ymin, xmax, ymax]`` in a (1, 1, keep_top_k N, 7) top.
``clip`` of boxes in pixels uses the image bottom's height and width of the deploy geometry.
Inference only: no gradient crosses it, as Caffe's layer has no backward."""
from ....rules.fields import declare
from ....rules import detection_output as detection_rules
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "DetectionOutput", "DetectionOutputParameter", detection_rules.FIELDS,
        no_effect=detection_rules.NO_EFFECT)


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
