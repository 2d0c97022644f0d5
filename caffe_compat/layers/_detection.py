"""Box decoding and non-maximum suppression shared by DetectionOutput and Proposal: the numpy
rules live in :mod:`caffe_compat.rules.boxes` (torch-free, so that the torch-free inference
path runs the same code); the layers and converters reach them here.

Not a layer module: nothing here is registered.
"""
from ..rules import boxes as _boxes
from ..rules.boxes import F32, CodeType, box_size, decode  # noqa: F401 - the layers' names

# candidates up to which nms() and scan() compute the IoUs of all pairs at once (read at each
# call)
MATRIX_NMS = _boxes.MATRIX_NMS


class DetectionWarning(UserWarning):
    """A detection-layer setting that OpenCV 4's dnn ignores (and so do we, for parity)."""


def nms(boxes, sizes, scores, threshold, nms_threshold, top_k, normalized, limit=None):
    """:func:`caffe_compat.rules.boxes.nms` with this module's :data:`MATRIX_NMS`."""
    return _boxes.nms(boxes, sizes, scores, threshold, nms_threshold, top_k, normalized, limit,
                      matrix_min=MATRIX_NMS)


def scan(boxes, sizes, nms_threshold, normalized, limit=None):
    """:func:`caffe_compat.rules.boxes.scan` with this module's :data:`MATRIX_NMS`."""
    return _boxes.scan(boxes, sizes, nms_threshold, normalized, limit, matrix_min=MATRIX_NMS)
