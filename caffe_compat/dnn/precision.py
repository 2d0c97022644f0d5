"""Reduced precision of a :class:`caffe_compat.dnn.Net`, as OpenCV 4's dnn offers it:

* ``Net.quantize(calibData, inputsDtype, outputsDtype, perChannel=True)``: a new net running
  int8 (:class:`QuantizedMixin`) on onnxruntime's static quantization of the net's ONNX model
  (:mod:`caffe_compat.onnx_path.quantize` says what is quantized and why), without torch;
* ``getInputDetails()`` / ``getOutputDetails()``: a quantized net's (scales, zero points);
* ``setPreferableTarget(DNN_TARGET_CPU_FP16)``: OpenVINO with the bf16 / f16 precision hint
  where the processor computes in it (:func:`caffe_compat.onnx_path.reduced.capability`);
  elsewhere float32, with one warning per net;
* ``setPreferableTarget(DNN_TARGET_CUDA_FP16)`` with ``DNN_BACKEND_CUDA``: the torch forward
  on the CUDA device under float16 autocast (the inference plan's CUDA row: convolutions and
  products in float16, the folds and the outputs in float32); without a CUDA device the CPU
  in float32, with the target's warning.

``Net.precision`` says what the last forward ran in (``"float32"``, ``"int8"``,
``"bfloat16"``, ``"float16"``; before any forward: what the next will run in).

OpenCV 4's rules matched (``modules/dnn/src/net_quantization.cpp``, checked against 4.14):

* ``quantize`` of a quantized net is refused ("Cannot quantize a quantized net"), as is
  ``quantize`` of an empty net;
* ``inputsDtype`` and ``outputsDtype`` are ``CV_32F`` or ``CV_8S``; anything else is refused
  ("Input depth should be CV_32F or CV_8S", "Output depth ...");
* ``calibData``: a list (or tuple) of blobs, one per net input in order, each fed as
  ``setInput(blob, name)`` with no scale or mean (as float32), as many as the net has inputs
  ("Calibration data size should be equal to number of inputs"). A single array is one blob
  for the first input, as OpenCV's C++ ``Mat`` argument (OpenCV 4's Python binding splits it
  along its first axis instead). The calibration is a single forward: put several images
  into one blob's batch;
* ranges: each tensor's minimum and maximum over the calibration blob, with 0 in the range,
  int8 scale = (max - min) / 255, zero point = round(-128 - min / scale); Softmax and Sigmoid
  outputs have the fixed scale 1/256 and zero point -128, TanH 1/128 and 0, a Split / Slice /
  Crop output its input's range;
* ``getInputDetails()``: one (scale, zero point) per input; ``getOutputDetails()``: one per
  output of each output layer (``getUnconnectedOutLayers``) with ``CV_8S`` outputs; both
  raise "Net isn't quantized" on a net that is not;
* ``CV_8S`` inputs: the user quantizes the blobs, ``q = round(x / scale) + zero point``;
  ``CV_8S`` outputs come back int8, ``x = (q - zero point) * scale``.

What differs from OpenCV's int8 (the arithmetic is onnxruntime's or OpenVINO's,
:mod:`caffe_compat.onnx_path.quantize`; the bounds: tests/caffe_compat/dnn/test_quantize.py):
docs/from-cv2-dnn.md, "reduced precision"."""
from __future__ import annotations

import time
import warnings

import numpy as np

from ..diagnostics.stack import caller_stacklevel
from ..errors import NetError
from ..onnx_path import reduced
from ..onnx_path.quantize import (CV_32F, CV_8S, DEPTH_NAMES, FIXED_OUTPUT, INPUT_RANGE,
                             from_int8, opencv_params, to_int8)
from .constants import DNN_TARGET_CPU_FP16, DNN_TARGET_CUDA_FP16

PRECISIONS = ("float32", "int8", "bfloat16", "float16")


def _depth(what, value):
    """``value`` checked as a quantized net's depth (CV_32F or CV_8S, OpenCV's rule)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NetError(f"quantize: {what} must be an OpenCV depth code (cv2.CV_32F or "
                       f"cv2.CV_8S), got {value!r}")
    if int(value) not in (CV_32F, CV_8S):
        kind = "Input" if what == "inputsDtype" else "Output"
        raise NetError(f"quantize: {kind} depth should be CV_32F or CV_8S ({what}="
                       f"{DEPTH_NAMES.get(int(value), int(value))})")
    return int(value)


def calibration_feed(calibData, inputs, source):
    """``{input name: float32 array}`` of ``calibData`` by OpenCV's rule (module doc)."""
    if not inputs:
        raise NetError(f"{source}: quantize: the net has no input to calibrate")
    if isinstance(calibData, np.ndarray):
        blobs = [calibData]
    elif isinstance(calibData, (list, tuple)):
        blobs = list(calibData)
        if len(blobs) != len(inputs):
            raise NetError(f"{source}: quantize: Calibration data size should be equal to "
                           f"number of inputs: {len(blobs)} blob(s) given, the net has "
                           f"{len(inputs)} input(s) {inputs} (one blob per input; several "
                           "images go into one blob's batch)")
    else:
        raise NetError(f"{source}: quantize: calibData must be a blob (numpy array) or a list "
                       f"of blobs, one per input; got {type(calibData).__name__}")
    feed = {}
    for name, blob in zip(inputs, blobs):
        a = np.asarray(blob)
        if a.dtype.kind not in "biuf" or a.ndim == 0 or a.size == 0:
            raise NetError(f"{source}: quantize: the calibration blob for input '{name}' must "
                           f"be a non-empty numeric array (N x C x H x W), got "
                           f"{getattr(a, 'dtype', type(blob))} of shape {a.shape}")
        feed[name] = np.ascontiguousarray(a, dtype=np.float32)
    return feed


def _torch_free_parts(net):
    """(layers, {layer name: float32 arrays}, name) of ``net`` for :mod:`caffe_compat.onnx_path`:
    the torch-free path's own where the net runs on it, else the definition's and the
    caffemodel's (with the values ``setParam`` gave); raises UnsupportedError where a layer
    type has no converter."""
    from .. import onnx_path
    own = net.__dict__.get("_torch_free")
    if own is not None:
        weights = own._weights if own._weights is not None else own._weights_fn()
        own._weights = weights
        return own.layers, weights, own.name
    if net._python_layers:
        raise net._unsupported(f"{net._source}: reduced precision needs the net as ONNX; a "
                               "Python layer (dnn_registerLayer) cannot be written as ONNX")
    layers = list(net._param.layer)
    missing = onnx_path.TorchFreeNet.unsupported_types(layers)
    if missing:
        raise net._unsupported(f"{net._source}: reduced precision needs the net as ONNX; no "
                               f"ONNX converter for layer type(s) {', '.join(missing)}")
    weights = onnx_path.weights_by_layer(net._weights, net._values)
    if net._set_shapes and net._state is not None:      # values given by setParam
        for key, value in net._state.items():
            layer, index = key.rsplit(".", 1)
            if layer in weights and int(index) < len(weights[layer]):
                base = weights[layer][int(index)]
                weights[layer][int(index)] = value.detach().cpu().float().numpy() \
                    .reshape(base.shape).copy()
    return layers, weights, net._param.name or "net"


class PrecisionMixin:
    """quantize, getInputDetails / getOutputDetails, DNN_TARGET_CPU_FP16 and ``precision``
    of a dnn Net (module doc)."""

    # ------------------------------------------------------------------ int8
    def quantize(self, calibData, inputsDtype, outputsDtype, perChannel=True):
        """A new net running int8 (OpenCV 4's ``Net.quantize``; rules in
        :mod:`caffe_compat.dnn.precision`): calibrated on ``calibData`` (a list of blobs, one
        per input), its inputs and outputs of depth ``inputsDtype`` / ``outputsDtype``
        (``CV_32F`` or ``CV_8S``), weights per channel (``perChannel``, the default) or per
        tensor. The engine is onnxruntime's static quantization of the net's ONNX model
        (QDQ, u8 activations, s8 weights; :mod:`caffe_compat.onnx_path.quantize` says why); torch
        is not imported. The float net is left as it was."""
        self._check()
        if isinstance(self, QuantizedMixin):
            raise NetError(f"{self._source}: Cannot quantize a quantized net (OpenCV: a net "
                           "can be quantized only once; quantize the float32 net)")
        inputsDtype = _depth("inputsDtype", inputsDtype)
        outputsDtype = _depth("outputsDtype", outputsDtype)
        feed = calibration_feed(calibData, list(self._inputs), self._source)
        saved = self._fed
        self._fed = feed
        try:
            self._check_fed()                   # the blobs fit the net (clear errors)
        finally:
            self._fed = saved
        cls = _QUANTIZED.get(type(self))
        if cls is None:
            cls = _QUANTIZED[type(self)] = type(type(self).__name__, (QuantizedMixin, type(self)),
                                                {"__doc__": QuantizedMixin.__doc__,
                                                 "__module__": type(self).__module__})
        return cls.quantized_from(self, feed, inputsDtype, outputsDtype, bool(perChannel))

    def getInputDetails(self):
        """(scales float32 array, zero points int32 array) of the inputs of a quantized net;
        "Net isn't quantized" otherwise (OpenCV 4's rule)."""
        raise NetError(f"{self._source}: getInputDetails: Net isn't quantized (call it on "
                       "the net that quantize() returns)")

    def getOutputDetails(self):
        """(scales, zero points) of the outputs of a quantized net; "Net isn't quantized"
        otherwise (OpenCV 4's rule)."""
        raise NetError(f"{self._source}: getOutputDetails: Net isn't quantized (call it on "
                       "the net that quantize() returns)")

    # ------------------------------------------------------------------ CPU_FP16
    def _fallback_target(self, target, name):
        """A target OpenCV runs on the CPU where its device is missing: DNN_TARGET_CPU_FP16
        takes the bf16 / f16 hint the processor has
        (:func:`caffe_compat.onnx_path.reduced.capability`), or float32 with one warning per net
        saying why; the OpenCL targets warn and run float32 on the CPU."""
        self._set_device("cpu")
        if target != DNN_TARGET_CPU_FP16:
            warnings.warn(f"{name}: not available in caffe_compat.dnn; the net runs on the "
                          "CPU in float32", RuntimeWarning,
                          stacklevel=caller_stacklevel())
            return
        hint, why = reduced.capability()
        self.__dict__["_half_hint"] = hint
        self.__dict__["_half"] = None
        if hint is None and not self.__dict__.get("_half_warned"):
            self.__dict__["_half_warned"] = True
            warnings.warn(f"{name}: {why}; the net runs in float32", RuntimeWarning,
                          stacklevel=caller_stacklevel())

    def _torch_free_forward(self, shapes, wanted):
        """A forward that needs no torch net, or None: bf16 / f16 on OpenVINO
        (DNN_TARGET_CPU_FP16 where the processor has it), else the torch-free path's
        (:mod:`.torch_free`) where the net runs on it."""
        got = self._half_forward(shapes, wanted)
        ran = reduced.HINTS[self.__dict__["_half_hint"]] if got is not None else "float32"
        self.__dict__["_ran_precision"] = (self._target, ran)
        if got is None and self._torch_free is not None:
            got = self._lite_forward(shapes, wanted)
        return got

    def _half_forward(self, shapes, wanted):
        if self._target != DNN_TARGET_CPU_FP16 or not self.__dict__.get("_half_hint"):
            return None
        half = self.__dict__.get("_half")
        if half is None:
            layers, weights, name = _torch_free_parts(self)
            half = reduced.HalfForwards(layers, self._inputs, weights,
                                        self.__dict__["_half_hint"], name)
            self.__dict__["_half"] = half
        start = time.perf_counter_ns()
        try:
            return half.run(shapes, wanted, self._fed)
        finally:
            self._total = time.perf_counter_ns() - start

    # ------------------------------------------------------------------ CUDA_FP16
    def _cuda_half(self):
        """The half type a forward on the CUDA device runs under autocast (``"float16"`` for
        DNN_TARGET_CUDA_FP16, or the type ``reduced_precision(..., device="cuda")`` set), or
        None: float32 (on the CPU, or DNN_TARGET_CUDA)."""
        if self._device != "cuda":
            return None
        asked = self.__dict__.get("_cuda_precision")
        if asked:
            return asked
        return "float16" if self._target == DNN_TARGET_CUDA_FP16 else None

    # ------------------------------------------------------------------ what ran
    @property
    def precision(self):
        """The precision of the last forward (``"float32"``, ``"int8"``, ``"bfloat16"``,
        ``"float16"``); before any forward on the target set, that of the next."""
        half = self._cuda_half()
        if half:
            return half
        ran = self.__dict__.get("_ran_precision")
        if ran is not None and ran[0] == self._target:
            return ran[1]
        hint = self.__dict__.get("_half_hint")
        if self._target == DNN_TARGET_CPU_FP16 and hint:
            return reduced.HINTS[hint]
        return "float32"


_QUANTIZED = {}      # float net class -> its quantized class


class QuantizedMixin:
    """A net that ``Net.quantize`` returned: the float net's layers, inputs and names, its
    forwards on the int8 model (:class:`caffe_compat.onnx_path.quantize.Int8Forwards`).
    ``precision`` is ``"int8"``; ``engine`` ``"torch-free"`` (onnxruntime)."""

    @classmethod
    def quantized_from(cls, net, feed, inputs_dtype, outputs_dtype, per_channel):
        """The quantized net of float net ``net`` (module doc)."""
        from ..onnx_path.quantize import Int8Forwards
        q = cls.__new__(cls)
        q._init_state(net._source)
        q._inputs, q._input_shapes = list(net._inputs), dict(net._input_shapes)
        q._layers = net._layers
        q._index_layers()
        q._input_aliases = dict(net._input_aliases)
        q._backend, q._target = net._backend, net._target
        q.__dict__["_opencv_threads"] = net.__dict__.get("_opencv_threads")
        layers, weights, name = _torch_free_parts(net)
        q._int8 = Int8Forwards(layers, net._inputs, weights, feed, per_channel, name)
        q._dtypes = (inputs_dtype, outputs_dtype)
        q._details(feed)
        outputs = tuple(sorted({t for layer in q._out_layers for t in layer["tops"]}))
        q._int8.prepare(tuple(tuple(feed[n].shape) for n in q._inputs), outputs)
        return q

    def _details(self, feed):
        """OpenCV 4's input and output (scale, zero point) (module doc)."""
        self._in_details = [opencv_params(feed[n]) for n in self._inputs]
        out_layers = [self._layers[k - 1] for k in self.getUnconnectedOutLayers()]
        wanted = []
        for layer in out_layers:
            wanted += [t for t in layer["tops"] if t not in wanted]
            if layer["type"] in INPUT_RANGE and layer["bottoms"]:
                b = layer["bottoms"][0]
                if b not in wanted:
                    wanted.append(b)
        values = dict(zip(wanted, self._int8.float_outputs(wanted)))
        self._out_details = {}
        for layer in out_layers:
            for t in layer["tops"]:
                if layer["type"] in FIXED_OUTPUT:
                    got = FIXED_OUTPUT[layer["type"]]
                elif layer["type"] in INPUT_RANGE and layer["bottoms"]:
                    got = opencv_params(values[layer["bottoms"][0]])
                else:
                    got = opencv_params(values[t])
                self._out_details[t] = (float(np.float32(got[0])), int(got[1]))
        self._out_layers = out_layers

    # ------------------------------------------------------------------ details
    def getInputDetails(self):
        """(scales float32 array, zero points int32 array), one per input (OpenCV 4)."""
        return (np.array([s for s, _ in self._in_details], np.float32),
                np.array([z for _, z in self._in_details], np.int32))

    def getOutputDetails(self):
        """(scales, zero points): per output layer, its first output's (each of its
        outputs' with CV_8S outputs), as OpenCV 4."""
        got = []
        for layer in self._out_layers:
            tops = layer["tops"] if self._dtypes[1] == CV_8S else layer["tops"][:1]
            got += [self._out_details[t] for t in tops]
        return (np.array([s for s, _ in got], np.float32),
                np.array([z for _, z in got], np.int32))

    # ------------------------------------------------------------------ forwards
    def setInput(self, blob, name="", scalefactor=1.0, mean=None):
        """As ``Net.setInput``; with CV_8S inputs the blob must be int8 (quantized with
        :meth:`getInputDetails`), fed without scale or mean."""
        if self._dtypes[0] == CV_8S:
            a = np.asarray(blob)
            if a.dtype != np.int8:
                raise NetError(f"{self._source}: this net was quantized with "
                               f"inputsDtype=CV_8S: setInput takes int8 blobs, got "
                               f"{a.dtype} (quantize it: q = round(x / scale) + "
                               "zero point, with getInputDetails())")
            if scalefactor != 1.0 or (mean is not None and any(mean)):
                raise NetError(f"{self._source}: an int8 input takes no scale or mean "
                               "(apply them before quantizing the blob)")
        super().setInput(blob, name, scalefactor, mean)

    def _run(self, layer_ids):
        self._check()
        self._follow_opencv_threads()
        feed, shapes = {}, []
        for k, n in enumerate(self._inputs):
            if n not in self._fed:
                raise NetError(f"{self._source}: input '{n}' was not set; call setInput "
                               "first")
            x = self._fed[n]
            if self._dtypes[0] == CV_8S:
                x = from_int8(x, *self._in_details[k])
            feed[n] = x
            shapes.append(tuple(x.shape))
        self._check_fed()
        wanted = tuple(sorted({t for k in layer_ids for t in self._layers[k - 1]["tops"]}))
        self._timings = None
        start = time.perf_counter_ns()
        try:
            got = dict(zip(wanted, self._int8.run(tuple(shapes), wanted, feed)))
        finally:
            self._total = time.perf_counter_ns() - start
        if self._dtypes[1] == CV_8S:
            for t in got:
                if t in self._out_details:
                    got[t] = to_int8(got[t], *self._out_details[t])
        return got

    def _follow_opencv_threads(self):
        from . import opencv_threads
        seen = opencv_threads.follow()
        if seen != self.__dict__.get("_opencv_threads", seen):
            self._int8._plans.clear()
        self.__dict__["_opencv_threads"] = seen

    @property
    def precision(self):
        """``"int8"``: every forward of a quantized net runs its int8 model."""
        return "int8"

    @property
    def engine(self):
        """``"torch-free"``: the int8 ONNX model on onnxruntime or OpenVINO."""
        return "torch-free"

    # ------------------------------------------------------------------ not here
    def _refuse(self, what):
        raise self._unsupported(f"{self._source}: {what} is not available on a quantized net "
                                "(its int8 weights live in onnxruntime's model); call it on "
                                "the float32 net and quantize again")

    def _layer_blobs(self, k):
        self._refuse("getLayer(...).blobs / getParam")

    def _set_layer_blobs(self, k, values):
        self._refuse("Layer.blobs = ...")

    def setParam(self, layer, numParam, blob):
        """Refused: the int8 weights live in onnxruntime's model."""
        self._refuse("setParam")

    def setPreferableTarget(self, targetId):
        """Accepted: the int8 model runs on the CPU (onnxruntime) whatever the target; OpenCV 4
        also warns that only CPU, OpenCL and NPU targets run quantized nets."""
        if targetId != 0:
            warnings.warn(f"setPreferableTarget({targetId}): a quantized net runs int8 on "
                          "the CPU (onnxruntime)", RuntimeWarning,
                          stacklevel=caller_stacklevel())
        self._target = 0

    def __repr__(self):
        return (f"<caffe_compat.dnn.Net (int8) {self._source}: {len(self._layers)} layers, "
                f"inputs {self._inputs}>")
