"""int8 forwards of a Caffe net without torch: the net's ONNX model (:func:`.graph.build`, the
model the torch-free path runs) quantized by onnxruntime's static post-training quantization
(``onnxruntime.quantization.quantize_static``) on calibration inputs, and run on onnxruntime's
CPU provider or OpenVINO's CPU plugin, whichever a trial on the model finds faster
(:data:`INT8_RUNTIMES`, :func:`fastest`). :class:`caffe_compat.dnn.Net.quantize` is built on it.

What is quantized, and how (the settings chosen, :func:`settings`):

* the format is QDQ (QuantizeLinear / DequantizeLinear pairs around each quantizable node,
  which onnxruntime's graph optimiser fuses into its integer kernels: QLinearConv,
  QGemm / MatMulInteger, QLinearAdd, QLinearConcat, QLinearGlobalAveragePool ...);
* activations are unsigned 8-bit, asymmetric (a zero point), their range the minimum and
  maximum over the calibration data with 0 included, as OpenCV 4's ``Net::quantize``
  computes it (``getQuantizationParams``: scale = (max - min) / 255);
* weights are signed 8-bit, symmetric, per output channel or per tensor as the caller asks
  (OpenCV 4's ``perChannel``), and 7-bit (``reduce_range``) where the processor has no
  VNNI: onnxruntime's u8 x s8 kernels on AVX2 multiply with ``vpmaddubsw``, whose 16-bit
  sums of two products saturate with full 8-bit weights; 7-bit weights keep them exact;
* Softmax stays float32 (:data:`FIXED_OUTPUT`'s note, :data:`FLOAT_OPS`); layers that ONNX
  does not express as Caffe computes them (DetectionOutput) stay numpy steps in float32
  after the int8 model, as on the torch-free path.

Why those settings (the sweep, ``python benchmarks/bench_precision.py --sweep``, and its table:
docs/from-cv2-dnn.md, "Reduced precision"): QDQ u8 x s8 was the fastest variant, as fast as
QOperator; per-tensor weights and full 8-bit weights without VNNI cost accuracy for no speed.

The calibration ranges are kept (onnxruntime's calibration cache, a JSON file of tensor
ranges): a forward of another input shape quantizes that shape's model with the same ranges,
without running the calibration again."""
from __future__ import annotations

import os

import numpy as np

from .reduced import PlannedForwards
from .unsupported import Unsupported

# OpenCV's depth codes (cv2.CV_8S, cv2.CV_32F)
CV_8S, CV_32F = 1, 5
DEPTH_NAMES = {0: "CV_8U", 1: "CV_8S", 2: "CV_16U", 3: "CV_16S", 4: "CV_32S", 5: "CV_32F",
               6: "CV_64F", 7: "CV_16F"}

# the output ranges OpenCV 4's quantize fixes instead of measuring (net_quantization.cpp):
# (scale, zero point) of an int8 tensor
FIXED_OUTPUT = {"TanH": (1.0 / 128, 0), "Sigmoid": (1.0 / 256, -128),
                "Softmax": (1.0 / 256, -128), "SoftMax": (1.0 / 256, -128)}
# the types whose output range OpenCV 4 takes from the input (Split, Slice, Crop)
INPUT_RANGE = {"Split", "Slice", "Crop"}


# ONNX operators left in float32 (on dequantized inputs): Softmax, whose probabilities are
# mostly below one step of an 8-bit [0, 1] range over 1000 classes (quantized, a classifier's
# output was all zeros; OpenCV 4's int8 Softmax also gives float32 probabilities to a float
# output)
FLOAT_OPS = ("Softmax",)


def opencv_params(values):
    """(scale, zero point) of an int8 tensor holding ``values``, by OpenCV 4's rule
    (``getQuantizationParams``): the range [min, max] with 0 in it, scale = (max - min) /
    255 (1.0 for an empty range), zero point = round(-128 - min / scale)."""
    a = np.asarray(values)
    rmin = min(float(a.min()), 0.0) if a.size else 0.0
    rmax = max(float(a.max()), 0.0) if a.size else 0.0
    scale = 1.0 if rmax == rmin else (rmax - rmin) / 255.0
    zero = int(np.round(-128 - rmin / scale))
    return float(np.float32(scale)), zero


def to_int8(values, scale, zero):
    """``values`` quantized as OpenCV's Quantize layer does: round(x / scale) + zero point,
    saturated to [-128, 127]."""
    q = np.rint(np.asarray(values, np.float32) / np.float32(scale)) + zero
    return np.clip(q, -128, 127).astype(np.int8)


def from_int8(values, scale, zero):
    """int8 ``values`` back to float32: (q - zero point) * scale (OpenCV's Dequantize)."""
    return ((np.asarray(values, np.float32) - np.float32(zero)) * np.float32(scale)) \
        .astype(np.float32)


def settings(per_channel):
    """The keyword arguments of ``quantize_static`` used here (module doc): 7-bit weights
    where the processor has no 8-bit dot product (AVX512-VNNI or AVX-VNNI)."""
    from onnxruntime.quantization import QuantFormat, QuantType

    from ..kernels.numerics import cpu_flags
    return dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, per_channel=bool(per_channel),
                reduce_range=not cpu_flags() & {"avx512_vnni", "avx_vnni"})


def calibration_reader(feeds):
    """A ``CalibrationDataReader`` giving ``feeds`` (a list of {input name: array}) in turn."""
    from onnxruntime.quantization import CalibrationDataReader
    feeds = list(feeds)

    class Reader(CalibrationDataReader):
        def rewind(self):
            self._left = iter(feeds)

        def get_next(self):
            return next(self._left, None)

        def __len__(self):
            return len(feeds)
    reader = Reader()
    reader.rewind()
    return reader


def quantize_model(model, feeds=None, cache=None, per_channel=True, **overrides):
    """The int8 ONNX model (bytes) of ``model`` (ONNX bytes), its ranges from ``feeds`` (a
    list of {input name: float32 array}) or, where the file ``cache`` holds them already,
    from there (``cache`` is then written by the first call)."""
    import logging
    import shutil
    import tempfile

    import onnx
    from onnxruntime.quantization import quantize_static
    options = settings(per_channel)
    options.update(overrides)
    proto = onnx.load_from_string(bytes(model))
    folder = tempfile.mkdtemp(prefix="caffe_compat-int8-")
    out = os.path.join(folder, "int8.onnx")
    # the quantizer's advice to pre-process the model: our models have fixed shapes and are
    # optimised by the session
    quiet = lambda r: "pre-processing before quantization" not in r.getMessage()  # noqa: E731
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        reader = calibration_reader(feeds) if feeds is not None else None
        exclude = [n.name for n in proto.graph.node if n.op_type in FLOAT_OPS and n.name]
        quantize_static(proto, out, reader, calibration_cache_path=cache,
                        nodes_to_exclude=exclude,
                        extra_options={"CalibTensorRangeSymmetric": False}, **options)
        with open(out, "rb") as f:
            return f.read()
    finally:
        root.removeFilter(quiet)
        shutil.rmtree(folder, ignore_errors=True)


def _ranges_model(model, feeds, ranges, per_channel):
    """(int8 model bytes, the ranges' JSON bytes) of ``model``: calibrated on ``feeds`` where
    ``ranges`` is None, else quantized with ``ranges`` (the JSON of an earlier call)."""
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix="caffe_compat-ranges-")
    cache = os.path.join(folder, "ranges.json")
    try:
        if ranges is not None:
            with open(cache, "wb") as f:
                f.write(ranges)
        out = quantize_model(model, None if ranges is not None else feeds, cache, per_channel)
        with open(cache, "rb") as f:
            return out, f.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# the runtimes that run the int8 (QDQ) model: onnxruntime fuses each QuantizeLinear /
# DequantizeLinear pair into its integer kernels, OpenVINO's CPU plugin does the same with its
# own (its low-precision transformations); the faster one on the model is measured
# (:func:`fastest`) when a model is made (figures: docs/engines.md)
INT8_RUNTIMES = ("onnxruntime", "openvino")


def _int8_session(name, model, part):
    """A callable ``feed -> [arrays]`` running the int8 model on runtime ``name``: the torch-free
    runtimes' sessions (:func:`.runtime.session`), OpenVINO's without the f32 precision hint
    (the QDQ model's integer arithmetic is what it is compiled for)."""
    from . import runtime
    if name != "openvino":
        return runtime.session(name, model, part.input_names, part.output_names)
    return runtime.openvino_session(model, part.input_names, part.output_names, hint=None)


def fastest(sessions, feed):
    """The name of the fastest of ``sessions`` ({name: callable}) on ``feed``, by the
    package's one runtime trial run at once (:meth:`.choice.Chosen.now`)."""
    from .choice import Chosen
    names = list(sessions)
    trial = Chosen(sessions[names[0]], names[0], names[1:], sessions.__getitem__, 0.0)
    trial.now(feed)
    return trial.runtime


class Int8Forwards(PlannedForwards):
    """The int8 forwards of a net: ``layers`` (LayerParameters, unique names, no Input layer),
    ``inputs`` (names), ``weights`` ({layer name: float32 arrays}) and the calibration feed
    ``calibration`` ({input name: float32 array}). Each (input shapes, outputs) asked for gets
    its own model: written by :func:`.graph.build`, quantized (:func:`quantize_model`) with the
    ranges measured on the calibration feed for those outputs, loaded into an onnxruntime
    session; the last :data:`KEEP` are kept."""

    KEEP = 4

    def __init__(self, layers, inputs, weights, calibration, per_channel=True, name="net"):
        import collections
        super().__init__(layers, inputs, weights, name)
        self.calibration = {k: np.ascontiguousarray(v, np.float32) for k, v in calibration.items()}
        self.per_channel = bool(per_channel)
        self._ranges = {}                       # outputs -> ranges JSON (calibration cache)
        self.runtime = None                     # the runtime chosen for the last model
        # (shapes, outputs) -> (plan, int8 model): a session made again on more threads
        # (runtime.ThreadWatch) reuses the model instead of quantizing again
        self._models = collections.OrderedDict()

    def float_outputs(self, wanted):
        """The float32 values of blobs ``wanted`` on the calibration feed (the torch-free
        model on onnxruntime): the ranges OpenCV's rules read."""
        from . import runtime
        shapes = tuple(tuple(self.calibration[n].shape) for n in self.inputs)
        plan = self._build(shapes, tuple(wanted))
        session = None
        if plan.whole is not None:
            session = runtime.session("onnxruntime", b"".join(plan.model),
                                      plan.whole.input_names, plan.whole.output_names)
        return plan.run(session, self._feed(plan), list(wanted))

    def _feed(self, plan, feed=None):
        feed = self.calibration if feed is None else feed
        names = plan.whole.input_names if plan.whole is not None else []
        return {n: feed[n] for n in names}

    def _make(self, shapes, wanted):
        from . import graph
        plan, model = graph.remembered(self._models, (tuple(shapes), tuple(wanted)),
                                       self.quantized, self.KEEP)
        if model is None:                       # nothing for the model to compute
            return plan, None
        self._watch.made("onnxruntime")         # (both int8 runtimes take the count)
        sessions = {}
        # the runtime chosen on the first model serves every other shape too: one net's
        # outputs then do not depend on the batch (and the trial runs once)
        for name in [self.runtime] if self.runtime else self.runtimes():
            try:
                sessions[name] = _int8_session(name, model, plan.whole)
            except Exception as exc:  # noqa: BLE001 - a runtime that cannot run it is skipped
                from . import debug
                debug("int8 model of %s not run on %s: %s", self.name, name, exc)
        if not sessions:
            raise RuntimeError(f"{self.name}: no runtime ran the int8 model")
        self.runtime = fastest(sessions, self._trial_feed(plan, shapes)) \
            if len(sessions) > 1 else next(iter(sessions))
        return plan, sessions[self.runtime]

    def runtimes(self):
        """The runtimes tried for the int8 model: :data:`INT8_RUNTIMES` that are installed
        (``CAFFE_COMPAT_INT8_RUNTIME`` names one to use alone)."""
        from .runtime import installed
        forced = os.environ.get("CAFFE_COMPAT_INT8_RUNTIME", "").strip().lower()
        names = (forced,) if forced else INT8_RUNTIMES
        unknown = [n for n in names if n not in INT8_RUNTIMES]
        if unknown:
            raise ValueError(f"CAFFE_COMPAT_INT8_RUNTIME={forced!r}: expected one of "
                             f"{', '.join(INT8_RUNTIMES)}")
        return [n for n in names if installed(n)]

    def _trial_feed(self, plan, shapes):
        """The feed of the engine trial: the calibration blobs repeated to ``shapes`` where
        their items have those shapes, else zeros."""
        feed = {}
        for n, shape in zip(self.inputs, shapes):
            c = self.calibration[n]
            feed[n] = np.resize(c, shape) if tuple(c.shape[1:]) == tuple(shape[1:]) \
                else np.zeros(shape, np.float32)
        return self._feed(plan, feed)

    def quantized(self, shapes, wanted):
        """(plan, int8 ONNX model bytes or None) for input ``shapes`` and outputs ``wanted``:
        the plan's model quantized with the ranges of the calibration feed (the export's
        int8 file; the forwards load it into a session)."""
        wanted = tuple(wanted)
        plan = self._build(shapes, wanted)
        if plan.whole is None:                  # nothing for the model to compute
            return plan, None
        ranges = self._ranges.get(wanted)
        calib_shapes = tuple(tuple(self.calibration[n].shape) for n in self.inputs)
        if ranges is None and shapes != calib_shapes:
            calib_plan = self._build(calib_shapes, wanted)
            _, ranges = _ranges_model(b"".join(calib_plan.model), [self._feed(calib_plan)],
                                      None, self.per_channel)
            self._ranges[wanted] = ranges
        try:
            model, ranges = _ranges_model(b"".join(plan.model), [self._feed(plan)], ranges,
                                          self.per_channel)
        except Exception as exc:
            raise Unsupported(f"onnxruntime's quantizer did not quantize the model for input "
                              f"shapes {list(shapes)}: {exc}") from exc
        self._ranges[wanted] = ranges
        return plan, model

    def prepare(self, shapes, wanted):
        """Quantize the model of ``shapes`` and outputs ``wanted`` now (``quantize`` does it
        for the calibration's shapes and the net's outputs, so that its errors show there)."""
        from . import graph
        graph.remembered(self._plans, (tuple(shapes), tuple(wanted)), self._make, self.KEEP)
