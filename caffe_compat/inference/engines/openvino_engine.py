"""OpenVINO's CPU plugin on the net's ONNX export (the engine OpenCV 4 called
DNN_BACKEND_INFERENCE_ENGINE).

The model is read once and compiled per input shape (static shapes: OpenVINO's CPU plugin
picks its kernels for the shape; a dynamic batch costs it speed at batch 1), with
``INFERENCE_NUM_THREADS`` = :func:`~caffe_compat.inference.engines.threads.engine_threads`,
``PERFORMANCE_HINT`` LATENCY, ``NUM_STREAMS`` 1 and f32 inference precision (no bf16/f16
down-conversion: the outputs must match our forward within 1e-4). ``ENABLE_CPU_PINNING`` is
OpenVINO's own default (benchmarks/bench_engine_threads.py measures both settings: no
difference either way, alone or in a loop with cv2 preprocessing; the default keeps our
session the same as one created directly).
One infer request per compiled model; outputs are copied out of the request's buffers (the
next call overwrites them).
"""
from __future__ import annotations

import os
import threading

import numpy as np

from .registry import LibraryEngine, register_engine

_CORE = None


def _core():
    global _CORE
    if _CORE is None:
        import openvino as ov
        _CORE = ov.Core()
    return _CORE


@register_engine("openvino")
class OpenVinoEngine(LibraryEngine):
    library = "openvino"

    @staticmethod
    def session(path, outputs, threads, shapes=None):
        """A callable running the export at ``path`` compiled for the input ``shapes``
        (``{input: shape}``)."""
        import openvino as ov
        core = _core()
        model = core.read_model(os.fspath(path))
        if shapes:
            model.reshape({name: ov.PartialShape(list(shape)) for name, shape in shapes.items()})
        config = {"INFERENCE_NUM_THREADS": int(threads), "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"}
        compiled = core.compile_model(model, "CPU", config)
        request = compiled.create_infer_request()
        by_name = {}
        for port in compiled.outputs:
            for n in port.get_names():
                by_name.setdefault(n, port)
        ports = [by_name[o] for o in outputs]
        inputs = [p.get_any_name() for p in compiled.inputs]
        infer = request.infer
        lock = threading.Lock()      # one infer request: one call at a time

        def forward(feed):
            with lock:
                result = infer({n: feed[n] for n in inputs}, share_inputs=True)
                return [np.array(result[p]) for p in ports]

        forward.session = compiled
        return forward
