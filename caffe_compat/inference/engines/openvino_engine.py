"""OpenVINO's CPU plugin on the net's ONNX export (the engine OpenCV 4 called
DNN_BACKEND_INFERENCE_ENGINE), with the torch-free path's session settings
(:func:`caffe_compat.lite.runtime.openvino_session`): compiled per input shape (static shapes:
OpenVINO's CPU plugin picks its kernels for the shape; a dynamic batch costs it speed at batch
1), ``INFERENCE_NUM_THREADS`` = :func:`~caffe_compat.inference.engines.threads.engine_threads`,
``PERFORMANCE_HINT`` LATENCY, ``NUM_STREAMS`` 1 and f32 inference precision (no bf16/f16
down-conversion: the outputs must match our forward within 1e-4).
"""
from __future__ import annotations

from .registry import LibraryEngine, register_engine


@register_engine("openvino")
class OpenVinoEngine(LibraryEngine):
    library = "openvino"

    @staticmethod
    def session(path, outputs, threads, shapes=None):
        """A callable running the export at ``path`` compiled for the input ``shapes``
        (``{input: shape}``)."""
        from ...lite import runtime
        with open(path, "rb") as f:
            return runtime.tuned_session("openvino", f.read(), list(shapes) if shapes else None,
                                         list(outputs), threads=int(threads), shapes=shapes)
