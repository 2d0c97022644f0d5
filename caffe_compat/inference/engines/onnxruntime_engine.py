"""onnxruntime's CPU execution provider on the net's ONNX export, with the settings of the
torch-free path's sessions for a net that keeps running
(:func:`caffe_compat.lite.runtime.tuned_session`): ``intra_op_num_threads`` =
:func:`~caffe_compat.inference.engines.threads.engine_threads`, one inter-op thread, sequential
execution (a Caffe net is a chain: parallel branches buy nothing at these thread counts), all
graph optimisations, spinning threads unless ``$CAFFE_COMPAT_ORT_SPINNING`` is 0 (docs/engines.md,
Threads). The per-call path is ``session.run`` with the output names worked out once: inputs
that are contiguous float32 arrays are read in place.
"""
from __future__ import annotations

from .registry import LibraryEngine, register_engine


@register_engine("onnxruntime")
class OnnxRuntimeEngine(LibraryEngine):
    library = "onnxruntime"

    @staticmethod
    def session(path, outputs, threads, shapes=None):
        """A callable running the export at ``path``; ``shapes`` is not needed (the batch
        axis of the file is free)."""
        from ...lite import runtime
        with open(path, "rb") as f:
            return runtime.tuned_session("onnxruntime", f.read(), list(shapes or ()),
                                         list(outputs), threads=int(threads))
