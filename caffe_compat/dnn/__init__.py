"""cv2.dnn's Caffe surface on caffe_compat's engine: programs written for OpenCV 4's
``cv2.dnn.readNetFromCaffe`` keep running where OpenCV 5 removed the Caffe importer.

    from caffe_compat import dnn
    dnn.install()                   # cv2.dnn.readNetFromCaffe / readNet for Caffe, if missing
    net = cv2.dnn.readNetFromCaffe("deploy.prototxt", "weights.caffemodel")
    net.setInput(cv2.dnn.blobFromImage(image, 1.0, (300, 300), (104.0, 177.0, 123.0)))
    detections = net.forward()

or without touching cv2: ``net = dnn.readNetFromCaffe(...)``. The net's methods and their
rules are in :mod:`caffe_compat.dnn.net`; what differs from OpenCV 4 is listed in
docs/from-cv2-dnn.md.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import PrototxtError
from .blob import blobFromImage, blobFromImages
from .install import install, installed, uninstall
from .net import (DNN_BACKEND_CANN, DNN_BACKEND_CUDA, DNN_BACKEND_DEFAULT, DNN_BACKEND_HALIDE,
                  DNN_BACKEND_INFERENCE_ENGINE, DNN_BACKEND_OPENCV, DNN_BACKEND_TIMVX,
                  DNN_BACKEND_VKCOM, DNN_BACKEND_WEBNN, DNN_TARGET_CPU, DNN_TARGET_CPU_FP16,
                  DNN_TARGET_CUDA, DNN_TARGET_CUDA_FP16, DNN_TARGET_FPGA, DNN_TARGET_HDDL,
                  DNN_TARGET_MYRIAD, DNN_TARGET_NPU, DNN_TARGET_OPENCL, DNN_TARGET_OPENCL_FP16,
                  DNN_TARGET_VULKAN, UNSUPPORTED_METHODS, Layer, Net, UnsupportedError)

__all__ = ["readNetFromCaffe", "readNet", "blobFromImage", "blobFromImages", "Net", "Layer",
           "install", "uninstall", "installed", "UnsupportedError", "UNSUPPORTED_METHODS"] + \
    [k for k in dir() if k.startswith(("DNN_BACKEND_", "DNN_TARGET_"))]

_BUFFER_TYPES = (bytes, bytearray, memoryview, np.ndarray)


def _is_buffer(value):
    """A model given as its contents (OpenCV's buffer overload: a uint8 array; bytes too)
    rather than as a path."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (bytearray, memoryview)):
        return True
    if isinstance(value, bytes):
        # a short bytes value naming an existing file is a path, as OpenCV reads it
        return not (len(value) < 4096 and b"\n" not in value and b"{" not in value
                    and os.path.exists(os.fsdecode(value)))
    return False


def _as_bytes(value):
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value).view(np.uint8).tobytes()
    return bytes(value)


def readNetFromCaffe(prototxt=None, caffeModel=None, *, bufferProto=None, bufferModel=None):
    """A :class:`Net` from a Caffe deploy definition and optional weights: paths
    (``readNetFromCaffe(prototxt, caffeModel)``) or their contents (``readNetFromCaffe(
    bufferProto, bufferModel)``, uint8 arrays or bytes), as ``cv2.dnn.readNetFromCaffe``.
    Legacy formats are upgraded; the TEST phase's layers are kept."""
    from ..io import caffemodel as caffemodel_io
    from ..io import prototxt as prototxt_io
    proto = bufferProto if bufferProto is not None else prototxt
    model = bufferModel if bufferModel is not None else caffeModel
    if proto is None:
        raise PrototxtError("readNetFromCaffe: no net definition given (prototxt path or "
                            "bufferProto)")
    if _is_buffer(proto):
        data = _as_bytes(proto)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PrototxtError("<bufferProto>: not UTF-8 text; the first argument is the "
                                "prototxt (a .caffemodel's bytes go second)") from None
        source = "<bufferProto>"
    else:
        source = os.fsdecode(os.fspath(proto))
        text = prototxt_io.read_text_file(source)
    raw = prototxt_io.parse_net(text, filename=source, upgrade=False)
    # 'input:' fields without a shape: inputs whose shape comes with setInput
    open_inputs = [] if len(raw.input_shape) or len(raw.input_dim) else list(raw.input)
    param = prototxt_io.parse_net(text, filename=source)
    weights = None
    if model is not None and not (isinstance(model, (str, bytes)) and len(model) == 0) and \
            not (isinstance(model, np.ndarray) and model.size == 0):
        if _is_buffer(model):
            weights = caffemodel_io.parse_caffemodel(_as_bytes(model), "<bufferModel>")
        else:
            weights = caffemodel_io.read_caffemodel(os.fsdecode(os.fspath(model)))
    return Net(param, weights, source, open_inputs)


_CAFFE_EXTENSIONS = (".prototxt", ".caffemodel", ".pbtxt")


def is_caffe_model(model, config="", framework=""):
    """Whether ``readNet(model, config, framework)`` names a Caffe model (by framework or by
    the files' extensions, as OpenCV's readNet decides)."""
    if str(framework).lower() == "caffe":
        return True
    exts = {os.path.splitext(os.fsdecode(os.fspath(p)))[1].lower()
            for p in (model, config) if isinstance(p, (str, bytes, os.PathLike)) and p}
    return bool(exts) and exts <= set(_CAFFE_EXTENSIONS) and ".pbtxt" not in exts


def readNet(model, config="", framework="", *args):
    """``cv2.dnn.readNet`` for Caffe: a .prototxt / .caffemodel pair in either order, or
    ``readNet("caffe", bufferModel, bufferConfig)``. Other formats are OpenCV's (use
    ``cv2.dnn.readNet``, or :func:`install`, which delegates them)."""
    if isinstance(model, str) and model.lower() == "caffe" and _is_buffer(config):
        buffer_model, buffer_config = config, framework
        return readNetFromCaffe(bufferProto=buffer_config, bufferModel=buffer_model)
    if not is_caffe_model(model, config, framework):
        raise UnsupportedError(f"readNet({model!r}, {config!r}): caffe_compat.dnn reads Caffe "
                               "models (.prototxt + .caffemodel); other formats are read by "
                               "OpenCV's own cv2.dnn.readNet")
    paths = [p for p in (model, config) if p]
    proto = [p for p in paths if os.fsdecode(os.fspath(p)).lower().endswith(".prototxt")]
    weights = [p for p in paths if os.fsdecode(os.fspath(p)).lower().endswith(".caffemodel")]
    if len(proto) != 1 or len(weights) > 1:
        raise PrototxtError(f"readNet({model!r}, {config!r}): expected one .prototxt and at "
                            "most one .caffemodel")
    return readNetFromCaffe(proto[0], weights[0] if weights else None)
