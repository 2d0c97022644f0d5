"""Reduced-precision inference of a Caffe net: :func:`reduced_precision`.

    >>> runner = caffe_compat.reduced_precision(net, "int8", calibration=faces)
    >>> out = runner.forward(data=images)      # {output blob: float32 numpy array}
    >>> runner.precision                       # "int8"

A function returning a runner, not a ``precision=`` argument of :class:`caffe_compat.Net`:
a ``Net``'s blobs, parameters and backward stay float32; the int8 forward runs on another
engine (:mod:`caffe_compat.onnx_path.quantize`), outputs only, weights frozen at the call,
the float net left as it was.

``net``: a :class:`caffe_compat.Net` (its TEST-phase definition: data layers become inputs of
their blobs' shapes, loss, Accuracy and Silence layers are left out; its current weights), a
``(prototxt, caffemodel)`` pair of paths, or a :class:`caffe_compat.dnn.Net`. ``precision``:
``"float32"`` (the float net's own forward), ``"int8"``, or ``"bfloat16"`` (cv2.dnn's
``DNN_TARGET_CPU_FP16``: :mod:`caffe_compat.onnx_path.reduced`, else float32 with one
warning; no calibration), or ``"float16"`` with ``device="cuda"``. ``device``: ``"cpu"``
(default) or ``"cuda"``: float32, float16 or bfloat16 on the CUDA device (cv2.dnn's
``DNN_BACKEND_CUDA``, the torch forward under the half type's autocast; without a CUDA device
the target's warning and float32 on the CPU, which ``precision`` then says); int8 runs on the
CPU. ``calibration`` (int8): a blob for the net's one input, a dict
``{input name: blob}``, or a source on disk (images folder or HDF5 list file, read by
:func:`caffe_compat.data.calibration.read_inputs` with ``mean``, ``scale``, ``swap_rb``); the
ranges are measured on it in one forward (OpenCV 4's ``Net.quantize`` rule), so it should
hold a few dozen inputs like those the runner will see. ``per_channel``: the weights' scales
per output channel (default) or per tensor.

``forward(**inputs)`` returns ``{output: float32 array}`` for the net's output layers (as
``cv2.dnn``'s ``getUnconnectedOutLayersNames``), or the layers ``outputs=`` names; any batch."""
from __future__ import annotations

import os

import numpy as np

from ..errors import NetError

PRECISIONS = ("float32", "int8", "bfloat16", "float16")
DEVICES = ("cpu", "cuda")
CV_32F = 5


def precision_problem(precision, device="cpu"):
    """What is wrong with running ``precision`` on ``device``, in words, or None: int8 runs on
    the CPU, float16 on a CUDA device, float32 and bfloat16 on either (the one rule of
    :func:`reduced_precision` and of the reproduction's ``--precision`` / ``--device``)."""
    if precision not in PRECISIONS:
        return f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}"
    if device not in DEVICES:
        return f"device {device!r}: expected one of {', '.join(DEVICES)}"
    if precision == "int8" and device == "cuda":
        return ("int8 runs on the CPU (onnxruntime or OpenVINO); on a CUDA device use float16 "
                "or bfloat16")
    if precision == "float16" and device == "cpu":
        return ("float16 runs on a CUDA device (device cuda); on the CPU use bfloat16 "
                "(OpenVINO's bf16 / f16 where the processor has it) or int8")
    return None


class PrecisionRunner:
    """Forwards of a net at one precision (module doc): ``forward(**inputs)``, ``inputs``,
    ``outputs``, ``input_shapes`` ({name: N x C x H x W of the definition}), ``precision``
    and ``engine`` (what runs it, in words)."""

    def __init__(self, dnn_net, inputs, input_shapes, outputs, precision, source):
        self._net = dnn_net
        self.inputs, self.input_shapes = list(inputs), dict(input_shapes)
        self.outputs, self.precision = list(outputs), precision
        self.source = source

    @property
    def engine(self):
        """What runs the forwards, in words (int8: the runtime the trial chose for the last
        model made, :mod:`caffe_compat.onnx_path.quantize`)."""
        int8 = getattr(self._net, "_int8", None)
        if getattr(self._net, "_device", "cpu") == "cuda":
            return f"caffe_compat.dnn on the CUDA device ({self.precision}" + \
                (" autocast)" if self.precision != "float32" else ")")
        if int8 is None:
            if self.precision in ("bfloat16", "float16"):
                return f"openvino {self.precision} (INFERENCE_PRECISION_HINT)"
            return "caffe_compat.dnn (float32)"
        return (f"{int8.runtime or 'onnxruntime'} int8 (QDQ, u8 activations, s8 weights "
                f"{'per channel' if int8.per_channel else 'per tensor'})")

    def forward(self, **inputs):
        """``{output: float32 array}`` for the blobs given by input name."""
        missing = [n for n in self.inputs if n not in inputs]
        extra = [n for n in inputs if n not in self.inputs]
        if missing or extra:
            raise NetError(f"{self.source}: forward takes the inputs {self.inputs}; "
                           + (f"missing {missing}" if missing else f"unknown {extra}"))
        for n in self.inputs:
            x = inputs[n]
            if hasattr(x, "detach"):                   # a torch tensor
                x = x.detach().cpu().numpy()
            self._net.setInput(np.ascontiguousarray(x, np.float32), n)
        got = self._net.forward(self.outputs)
        return {n: np.asarray(v, np.float32) for n, v in zip(self.outputs, got)}

    __call__ = forward

    def __repr__(self):
        return (f"<PrecisionRunner {self.precision} ({self.engine}) {self.source}: inputs "
                f"{self.inputs}, outputs {self.outputs}>")


def deploy_definition(net):
    """(prototxt text, caffemodel bytes) of a :class:`caffe_compat.Net` for inference: its
    ``inference_proto`` with each data layer (a layer that reads its blobs from a source)
    replaced by an Input layer of the tops a kept layer reads, at the net's blob shapes."""
    from ..proto import caffe_pb2
    proto = net.inference_proto()
    data_layers = {node.name for node, key, _, _ in net._nodes if net.layers[key].is_data}
    used = {b for lp in proto.layer if lp.name not in data_layers for b in lp.bottom}
    out = caffe_pb2.NetParameter()
    out.CopyFrom(proto)
    del out.layer[:]
    for lp in proto.layer:
        if lp.name not in data_layers:
            out.layer.add().CopyFrom(lp)
            continue
        tops = [t for t in lp.top if t in used]
        if not tops:
            continue
        new = out.layer.add()
        new.name, new.type = lp.name, "Input"
        for t in tops:
            new.top.append(t)
            new.input_param.shape.add().dim.extend(int(d) for d in net.blob_shape(t))
    from google.protobuf import text_format
    return text_format.MessageToString(out), net.caffemodel_bytes()


def _dnn_net(net):
    """(caffe_compat.dnn.Net, source name) of ``net`` (module doc)."""
    from .. import dnn
    if isinstance(net, (tuple, list)) and len(net) == 2:
        proto, model = (os.fspath(p) for p in net)
        return dnn.readNetFromCaffe(proto, model), proto
    if isinstance(net, dnn.Net):
        return net, getattr(net, "_source", "<dnn net>")
    if type(net).__name__ == "Net" and hasattr(net, "inference_proto"):
        text, model = deploy_definition(net)
        return dnn.readNetFromCaffe(bufferProto=text.encode("utf-8"), bufferModel=model), \
            getattr(net, "source", "<net>")
    raise NetError(f"reduced_precision: expected a caffe_compat.Net, a (prototxt, caffemodel) "
                   f"pair or a caffe_compat.dnn.Net; got {type(net).__name__}")


def _input_shapes(dnn_net):
    shapes = {n: dnn_net._input_shapes.get(n) for n in dnn_net._inputs}
    return {n: tuple(int(d) for d in s) if s is not None else None for n, s in shapes.items()}


def calibration_feed(calibration, inputs, input_shapes, source, mean=None, scale=1.0,
                     swap_rb=False, limit=None):
    """``{input: float32 blob}`` of ``calibration`` (module doc)."""
    if calibration is None:
        raise NetError(f"{source}: int8 needs calibration inputs (a blob, a dict of blobs per "
                       "input, or a folder of images / an HDF5 list file)")
    if isinstance(calibration, (str, os.PathLike)):
        from ..data.calibration import read_inputs
        missing = [n for n in inputs if input_shapes.get(n) is None]
        if missing:
            raise NetError(f"{source}: inputs {missing} have no declared shape; a calibration "
                           "source needs the net's input shapes")
        got = read_inputs(calibration, {n: input_shapes[n] for n in inputs}, limit, mean,
                          scale, swap_rb)
        return got.feeds
    if isinstance(calibration, dict):
        unknown = [k for k in calibration if k not in inputs]
        missing = [n for n in inputs if n not in calibration]
        if unknown or missing:
            raise NetError(f"{source}: the calibration dict must have one blob per input "
                           f"{inputs}; " + (f"missing {missing}" if missing else
                                            f"unknown {unknown}"))
        blobs = {n: calibration[n] for n in inputs}
    else:
        if len(inputs) != 1:
            raise NetError(f"{source}: the net has {len(inputs)} inputs {inputs}; give the "
                           "calibration as a dict {input name: blob}")
        blobs = {inputs[0]: calibration}
    return {n: np.ascontiguousarray(b.detach().cpu().numpy() if hasattr(b, "detach") else b,
                                    np.float32) for n, b in blobs.items()}


def reduced_precision(net, precision="int8", calibration=None, *, per_channel=True,
                      outputs=None, mean=None, scale=1.0, swap_rb=False, limit=None,
                      device="cpu"):
    """A :class:`PrecisionRunner` of ``net`` at ``precision`` (module doc)."""
    problem = precision_problem(precision, device)
    if problem is not None:
        raise NetError(f"reduced_precision: {problem}")
    dnn_net, source = _dnn_net(net)
    inputs = list(dnn_net._inputs)
    shapes = _input_shapes(dnn_net)
    if outputs is None:
        outputs = list(dnn_net.getUnconnectedOutLayersNames())
    if device == "cuda":
        # the torch forward on the device, float32 or under the half type's autocast
        from ..dnn.constants import DNN_BACKEND_CUDA, DNN_TARGET_CUDA, DNN_TARGET_CUDA_FP16
        dnn_net.setPreferableBackend(DNN_BACKEND_CUDA)
        dnn_net.setPreferableTarget(DNN_TARGET_CUDA if precision == "float32"
                                    else DNN_TARGET_CUDA_FP16)
        if precision != "float32":
            dnn_net.__dict__["_cuda_precision"] = precision
        return PrecisionRunner(dnn_net, inputs, shapes, outputs, dnn_net.precision, source)
    if precision == "float32":
        return PrecisionRunner(dnn_net, inputs, shapes, outputs, "float32", source)
    if precision == "bfloat16":
        from ..dnn.constants import DNN_TARGET_CPU_FP16
        dnn_net.setPreferableTarget(DNN_TARGET_CPU_FP16)
        return PrecisionRunner(dnn_net, inputs, shapes, outputs, dnn_net.precision, source)
    feed = calibration_feed(calibration, inputs, shapes, source, mean, scale, swap_rb, limit)
    quantized = dnn_net.quantize([feed[n] for n in inputs], CV_32F, CV_32F, bool(per_channel))
    return PrecisionRunner(quantized, inputs, shapes, outputs, "int8", source)
