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

from .blob import blobFromImage, blobFromImages
from .install import install, installed, uninstall
from .net import (DNN_BACKEND_CANN, DNN_BACKEND_CUDA, DNN_BACKEND_DEFAULT, DNN_BACKEND_HALIDE,
                  DNN_BACKEND_INFERENCE_ENGINE, DNN_BACKEND_OPENCV, DNN_BACKEND_TIMVX,
                  DNN_BACKEND_VKCOM, DNN_BACKEND_WEBNN, DNN_TARGET_CPU, DNN_TARGET_CPU_FP16,
                  DNN_TARGET_CUDA, DNN_TARGET_CUDA_FP16, DNN_TARGET_FPGA, DNN_TARGET_HDDL,
                  DNN_TARGET_MYRIAD, DNN_TARGET_NPU, DNN_TARGET_OPENCL, DNN_TARGET_OPENCL_FP16,
                  DNN_TARGET_VULKAN, UNSUPPORTED_METHODS, Layer, Net, UnsupportedError)
from .readers import is_caffe_model, readNet, readNetFromCaffe

__all__ = ["readNetFromCaffe", "readNet", "blobFromImage", "blobFromImages", "Net", "Layer",
           "install", "uninstall", "installed", "UnsupportedError", "UNSUPPORTED_METHODS"] + \
    [k for k in dir() if k.startswith(("DNN_BACKEND_", "DNN_TARGET_"))]
