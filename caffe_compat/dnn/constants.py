"""cv2.dnn's enumerations, with OpenCV 4.x's values (checked against OpenCV 4.14's
``cv2.dnn``): the backends, the targets, the data layouts (``DNN_LAYOUT_*``, which OpenCV 5
moved out of ``cv2.dnn``) and the padding modes of ``Image2BlobParams`` (``DNN_PMODE_*``).

:data:`OPENCV4_CONSTANTS` lists them all; :func:`caffe_compat.dnn.install` puts back into
``cv2.dnn`` those the installed OpenCV lacks (OpenCV 5 removed ``DNN_BACKEND_HALIDE`` and the
``DNN_LAYOUT_*`` names), so programs that list backends at import keep running."""
from __future__ import annotations

DNN_BACKEND_DEFAULT, DNN_BACKEND_HALIDE, DNN_BACKEND_INFERENCE_ENGINE, DNN_BACKEND_OPENCV, \
    DNN_BACKEND_VKCOM, DNN_BACKEND_CUDA, DNN_BACKEND_WEBNN, DNN_BACKEND_TIMVX, \
    DNN_BACKEND_CANN = range(9)
DNN_TARGET_CPU, DNN_TARGET_OPENCL, DNN_TARGET_OPENCL_FP16, DNN_TARGET_MYRIAD, \
    DNN_TARGET_VULKAN, DNN_TARGET_FPGA, DNN_TARGET_CUDA, DNN_TARGET_CUDA_FP16, \
    DNN_TARGET_HDDL, DNN_TARGET_NPU, DNN_TARGET_CPU_FP16 = range(11)
DNN_LAYOUT_UNKNOWN, DNN_LAYOUT_ND, DNN_LAYOUT_NCHW, DNN_LAYOUT_NCDHW, DNN_LAYOUT_NHWC, \
    DNN_LAYOUT_NDHWC, DNN_LAYOUT_PLANAR = range(7)
DNN_PMODE_NULL, DNN_PMODE_CROP_CENTER, DNN_PMODE_LETTERBOX = range(3)

BACKEND_NAMES = {v: k for k, v in dict(globals()).items() if k.startswith("DNN_BACKEND_")}
TARGET_NAMES = {v: k for k, v in dict(globals()).items() if k.startswith("DNN_TARGET_")}
OPENCV4_CONSTANTS = {k: v for k, v in dict(globals()).items()
                     if k.startswith(("DNN_BACKEND_", "DNN_TARGET_", "DNN_LAYOUT_", "DNN_PMODE_"))}
__all__ = sorted(OPENCV4_CONSTANTS) + ["OPENCV4_CONSTANTS"]
