"""Box decoding and non-maximum suppression shared by DetectionOutput and Proposal: the numpy
rules live in :mod:`caffe_compat.lite.boxes` (torch-free, so the torch-free inference path
runs the same code); their names are kept here for the layers and converters that use them.

Not a layer module: nothing here is registered.
"""
from ..lite.boxes import F32, CodeType, DetectionWarning, box_size, decode, nms  # noqa: F401
