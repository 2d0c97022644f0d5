"""What the exports (ONNX, PyTorch source) do with parameter fields that do not shape what they
write, for their declarations (:func:`caffe_compat.rules.fields.declare`): both export a built
net, so a filler (which only initialised a blob) is replaced by the blob itself."""
from ..proto import caffe_pb2
from ..rules import prior_box as prior_rules

WRITTEN = "the export writes the built net's current blobs (the filler only initialised them)"
# fields the built layer does not read, following OpenCV's dnn (the layer warns when one is set)
OPENCV_UNUSED = "not read by OpenCV's dnn, whose rule the built layer follows"

# the fields of the OpenCV-rule layers both exports follow (the others: no_effect below)
PRIOR_BOX_NO_EFFECT = dict.fromkeys(prior_rules.IMG_SIZE, OPENCV_UNUSED)
PRIOR_BOX = prior_rules.FIELDS


def fillers(message):
    """``{field: WRITTEN}`` for the FillerParameter fields of ``message``."""
    return {f.name: WRITTEN for f in getattr(caffe_pb2, message).DESCRIPTOR.fields
            if f.message_type is not None and f.message_type.name == "FillerParameter"}
