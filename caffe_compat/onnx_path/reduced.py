"""Half-precision forwards of a Caffe net without torch: the net's ONNX model (:func:`.graph.build`)
compiled by OpenVINO's CPU plugin with ``INFERENCE_PRECISION_HINT`` bf16 or f16, where the
processor computes in that precision (:func:`capability`). :mod:`caffe_compat.dnn.precision`
runs ``DNN_TARGET_CPU_FP16`` on it.

The capability is read by public means: OpenVINO's ``Core().get_property("CPU",
"OPTIMIZATION_CAPABILITIES")`` (it lists ``BF16`` on processors with AVX512_BF16 or AMX, ``FP16``
on those with AVX512_FP16 / AMX_FP16 or ARM's half-precision arithmetic), and the flags of
/proc/cpuinfo (``avx512_bf16``, ``amx_bf16``, ``avx512_fp16``, ``amx_fp16``) where OpenVINO is
not installed (no engine runs it then: the caller runs float32)."""
from __future__ import annotations

import collections

from ..kernels.numerics import cpu_flags

HINTS = {"bf16": "bfloat16", "f16": "float16"}      # OpenVINO's hint -> the precision's name


def capability():
    """``(hint, why)``: the OpenVINO precision hint (``"bf16"``, ``"f16"``) this processor
    computes in, or None, and a sentence saying what was found."""
    try:
        import openvino as ov
    except ImportError:
        flags = sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "avx512_fp16", "amx_fp16"})
        return None, ("OpenVINO is not installed (the engine of reduced precision here); "
                      f"processor flags for it: {', '.join(flags) or 'none'}")
    caps = [str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    if "BF16" in caps:
        return "bf16", f"OpenVINO's CPU plugin lists BF16 ({', '.join(caps)})"
    if "FP16" in caps:
        return "f16", f"OpenVINO's CPU plugin lists FP16 ({', '.join(caps)})"
    return None, (f"this processor has no bf16 / fp16 arithmetic (OpenVINO's CPU "
                  f"OPTIMIZATION_CAPABILITIES: {', '.join(caps)})")


class PlannedForwards:
    """The forwards of a net (``layers``, ``inputs``, ``weights`` as
    :class:`caffe_compat.onnx_path.TorchFreeNet`'s) on compiled models made by ``_make(shapes,
    wanted)``: one per (input shapes, outputs), the last :data:`KEEP` kept, made again where
    the thread policy grew since (:class:`.runtime.ThreadWatch`)."""

    KEEP = 2

    def __init__(self, layers, inputs, weights, name="net"):
        self.layers, self.inputs, self.weights, self.name = list(layers), list(inputs), \
            weights, name
        self._plans = collections.OrderedDict()     # (shapes, outputs) -> (plan, session)
        from .runtime import ThreadWatch
        self._watch = ThreadWatch()     # the thread counts of the compiled models

    def _build(self, shapes, wanted):
        from . import graph
        return graph.build(self.layers, list(zip(self.inputs, shapes)), self.weights,
                           list(wanted), self.name)

    def _feed(self, plan, feed):
        return feed

    def run(self, shapes, wanted, feed):
        """The float32 arrays of blobs ``wanted`` for ``feed`` ({input name: float32 array}
        of ``shapes``)."""
        from . import graph
        if self._watch.grew():
            self._plans.clear()            # compiled on fewer threads than the policy's now
        plan, session = graph.remembered(self._plans, (tuple(shapes), tuple(wanted)),
                                         self._make, self.KEEP)
        return plan.run(session, self._feed(plan, feed), list(wanted))


class HalfForwards(PlannedForwards):
    """The forwards of a net on OpenVINO with precision ``hint``."""

    def __init__(self, layers, inputs, weights, hint, name="net"):
        if hint not in HINTS:
            raise ValueError(f"precision hint {hint!r}: expected one of {sorted(HINTS)}")
        super().__init__(layers, inputs, weights, name)
        self.hint = hint

    def _make(self, shapes, wanted):
        from . import runtime
        plan = self._build(shapes, wanted)
        if plan.whole is None:
            return plan, None
        self._watch.made("openvino")
        return plan, runtime.openvino_session(plan.model, plan.whole.input_names,
                                              plan.whole.output_names, hint=self.hint)
