"""onnxruntime's CPU execution provider on the net's ONNX export.

Session settings: ``intra_op_num_threads`` = :func:`~caffe_compat.inference.engines.threads.engine_threads`,
one inter-op thread, sequential execution (a Caffe net is a chain: parallel branches buy
nothing at these thread counts), all graph optimisations. ``session.intra_op.allow_spinning``
is off (``SPIN``): a spinning pool keeps a core busy after each call, which slows the next
call of another engine, of torch or of the caller's own preprocessing on a machine of few
cores (docs/engines.md has the measurement). The per-call path is ``session.run`` with the
output names worked out once: inputs that are contiguous float32 arrays are read in place.
"""
from __future__ import annotations

import os

from .registry import LibraryEngine, register_engine

# session.intra_op.allow_spinning: "0" (threads sleep between calls) unless set in the
# environment; see the module doc
SPIN = os.environ.get("CAFFE_COMPAT_ORT_SPINNING", "0")


@register_engine("onnxruntime")
class OnnxRuntimeEngine(LibraryEngine):
    library = "onnxruntime"

    @staticmethod
    def session(path, outputs, threads, shapes=None, spinning=None):
        """A callable running the export at ``path``; ``shapes`` is not needed (the batch
        axis of the file is free)."""
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        spin = SPIN if spinning is None else ("1" if spinning else "0")
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.add_session_config_entry("session.inter_op.allow_spinning", spin)
        sess = ort.InferenceSession(os.fspath(path), options,
                                    providers=["CPUExecutionProvider"])
        names = list(outputs)
        run = sess.run

        def forward(feed):
            return run(names, feed)

        forward.session = sess
        return forward
