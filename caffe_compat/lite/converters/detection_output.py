"""DetectionOutput: a numpy step after the ONNX part (its NMS and top-k depend on the data in
ways ONNX's NonMaxSuppression does not reproduce as OpenCV 4 / this project's layer computes
them), by the same rule as the torch layer (:class:`caffe_compat.rules.detection_output.
DetectionRule`). Output ``(1, 1, keep_top_k * N, 7)``."""
import math

from ...rules import detection_output as detection_rules
from ...rules.detection_output import DetectionRule
from ...rules.fields import declare
from ._common import Unsupported, register

# nms_param.eta other than 1 goes to the torch path (which warns about it)
declare("lite", "DetectionOutput", "DetectionOutputParameter",
        detection_rules.FIELDS - {"nms_param"}, refuses={"nms_param"},
        no_effect=detection_rules.NO_EFFECT)


def _fail(message):
    raise Unsupported(message)


@register("DetectionOutput", host=True)
def detection_output(lp, bottoms, blobs):
    rule = DetectionRule(lp.detection_output_param, _fail)
    if rule.eta != 1.0:
        raise Unsupported(f"layer '{lp.name}': nms_param.eta (the torch path warns)")
    if len(bottoms) not in (3, 4) or (rule.clip and not rule.normalized and len(bottoms) < 4):
        raise Unsupported(f"layer '{lp.name}': {len(bottoms)} bottoms")
    loc, conf, prior = (b.shape for b in bottoms[:3])
    if len(prior) < 3 or prior[2] % 4 or loc[0] != conf[0] or \
            prior[1] != (1 if rule.encoded else 2):
        raise Unsupported(f"layer '{lp.name}': bottoms {loc}, {conf}, {prior}")
    n_priors = prior[2] // 4
    if math.prod(loc[1:]) != n_priors * rule.num_loc * 4 or \
            math.prod(conf[1:]) != n_priors * rule.num_classes:
        raise Unsupported(f"layer '{lp.name}': bottoms {loc}, {conf}, {prior}")
    image_hw = tuple(bottoms[3].shape[2:]) if len(bottoms) == 4 else None
    rows = detection_rules.output_rows(rule.keep_top_k, loc[0])

    def run(arrays):
        return [rule.detections(arrays[0], arrays[1], arrays[2], image_hw)]

    return [(1, 1, rows, 7)], run
