"""What the exports (ONNX, PyTorch source) do with parameter fields that do not shape what they
write, for their declarations (:func:`caffe_compat.rules.fields.declare`): both export a built
net, so a filler (which only initialised a blob) is replaced by the blob itself."""
from ..proto import caffe_pb2
from ..rules import im2col as im2col_rule, prior_box as prior_rules
from ..rules.fields import declare

WRITTEN = "the export writes the built net's current blobs (the filler only initialised them)"
# fields the built layer does not read, following OpenCV's dnn (the layer warns when one is set)
OPENCV_UNUSED = "not read by OpenCV's dnn, whose rule the built layer follows"
DEBUG_INFO = "Caffe's logging of the unrolled net; the values are the same"


# the fields of the OpenCV-rule layers both exports follow (the others: no_effect below)
PROPOSAL = frozenset({"feat_stride", "base_size", "ratio", "scale", "pre_nms_topn",
                      "post_nms_topn", "nms_thresh"})
PROPOSAL_NO_EFFECT = {"min_size": OPENCV_UNUSED}
PRIOR_BOX_NO_EFFECT = dict.fromkeys(prior_rules.IMG_SIZE, OPENCV_UNUSED)
PRIOR_BOX = prior_rules.FIELDS


def fillers(message):
    """``{field: WRITTEN}`` for the FillerParameter fields of ``message``."""
    return {f.name: WRITTEN for f in getattr(caffe_pb2, message).DESCRIPTOR.fields
            if f.message_type is not None and f.message_type.name == "FillerParameter"}


def declare_im2col(engine):
    return declare(engine, "Im2col", "ConvolutionParameter", im2col_rule.FIELDS,
                   no_effect=im2col_rule.NO_EFFECT)
