"""cv2.dnn's Caffe surface on caffe_compat's engine: programs written for OpenCV 4's
``cv2.dnn.readNetFromCaffe`` keep running where OpenCV 5 removed the Caffe importer.

    from caffe_compat import dnn
    dnn.install()                   # cv2.dnn.readNetFromCaffe / readNet for Caffe, if missing
    net = cv2.dnn.readNetFromCaffe("deploy.prototxt", "weights.caffemodel")
    net.setInput(cv2.dnn.blobFromImage(image, 1.0, (300, 300), (104.0, 177.0, 123.0)))
    detections = net.forward()

or without touching cv2: ``net = dnn.readNetFromCaffe(...)``. The net's methods and their
rules are in :mod:`caffe_compat.dnn.net`; what differs from OpenCV 4 is listed in
docs/from-cv2-dnn.md."""
from __future__ import annotations

from .blob import blobFromImage, blobFromImages, imagesFromBlob
from .install import install, installed, uninstall
from .constants import *  # noqa: F401,F403  (DNN_BACKEND_*, DNN_TARGET_*, DNN_LAYOUT_*, ...)
from .constants import OPENCV4_CONSTANTS
from .net import UNSUPPORTED_METHODS, Layer, Net, UnsupportedError, UnsupportedMethodError
from .python_layers import registerLayer, unregisterLayer
from .readers import is_caffe_model, readNet, readNetFromCaffe
from .shrink import shrinkCaffeModel

__all__ = ["readNetFromCaffe", "readNet", "blobFromImage", "blobFromImages", "imagesFromBlob",
           "shrinkCaffeModel",
           "Net", "Layer",
           "install", "uninstall", "installed", "registerLayer", "unregisterLayer",
           "UnsupportedError", "UnsupportedMethodError", "UNSUPPORTED_METHODS"] + \
    sorted(OPENCV4_CONSTANTS)
