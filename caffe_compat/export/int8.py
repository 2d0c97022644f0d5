"""``caffe-compat export --format onnx --precision int8``: the int8 ONNX model that
``caffe_compat.dnn``'s ``Net.quantize`` runs (QDQ: QuantizeLinear / DequantizeLinear around each
quantized operator, u8 activations, s8 weights per output channel or, ``--per-tensor``, per
tensor; 7-bit weights without VNNI: :mod:`caffe_compat.onnx_path.quantize`), calibrated on
``--calibration SRC`` (images with ``--mean``, ``--scale``, ``--swap-rb``, or an HDF5 list
file: :mod:`caffe_compat.data.calibration`), its inputs fixed at batch ``--static-batch``
(default 1). Refused, with the layer named: outputs that need a numpy step after the model
(DetectionOutput: export its inputs with ``--output``), a format other than ONNX. After the
atomic write, onnxruntime runs the file on the first calibration items beside float32: each
output's largest |int8 - float32| over its scale is printed (a measurement, not a check).
"""
from __future__ import annotations

import numpy as np

from ..errors import CaffeCompatError


def run_int8(args, stages):
    from .. import dnn
    from ..data.calibration import read_inputs
    from ..io.atomic import write_bytes_atomic
    from ..onnx_path.quantize import CV_32F
    if args.format != "onnx":
        raise CaffeCompatError(f"--precision int8: written as ONNX only (--format onnx), not "
                               f"{args.format}")
    if not args.calibration:
        raise CaffeCompatError("--precision int8 needs --calibration SRC (a folder of images "
                               "or an HDF5 list file)")
    stage = stages(4)
    try:
        stage("reading the net, its weights and the calibration data")
        net = dnn.readNetFromCaffe(args.model, args.weights)
        shapes = {n: net._input_shapes.get(n) for n in net._inputs}
        if any(s is None for s in shapes.values()):
            raise CaffeCompatError(f"{args.model}: every input needs a declared shape for an "
                                   "int8 export")
        calib = read_inputs(args.calibration, shapes, args.calibration_limit, mean=args.mean,
                            scale=args.scale, swap_rb=args.swap_rb)
        stage("calibrating and quantizing")
        q = net.quantize([calib.feeds[n] for n in net._inputs], CV_32F, CV_32F,
                         not args.per_tensor)
        outputs = list(args.output or [t for k in net.getUnconnectedOutLayers()
                                       for t in net._layers[k - 1]["tops"]])
        batch = args.static_batch or 1
        at = tuple((batch,) + tuple(shapes[n][1:]) for n in net._inputs)
        plan, model = q._int8.quantized(at, tuple(outputs))
        if plan.steps or plan.consts or model is None:
            layers = [t for _, _, tops in plan.steps for t in tops] or outputs
            raise CaffeCompatError(f"{args.model}: outputs {outputs} need {', '.join(layers)}, "
                                   "which the ONNX model does not compute (run in numpy after "
                                   "it, e.g. DetectionOutput); export the blobs before it "
                                   "with --output")
        write_bytes_atomic(args.out, named_outputs(model, plan.graph_outputs, outputs))
        stage("running the file on onnxruntime beside float32")
        diffs = _compare(args.out, net, calib, batch, outputs)
    finally:
        stage(None)
    print(f"wrote {args.out} (ONNX, int8: QDQ, u8 activations, s8 weights "
          f"{'per tensor' if args.per_tensor else 'per channel'}; batch {batch}; calibrated on "
          f"{len(calib)} items of {calib.source}; inputs {', '.join(net._inputs)}; outputs "
          f"{', '.join(outputs)})")
    for name, d in diffs.items():
        print(f"int8 file vs float32, {name}: max |diff| {d:.3g} of its scale")
    return 0


def named_outputs(model, graph_outputs, outputs):
    """``model`` (bytes) with its outputs named after the blobs (an Identity node per output:
    the converters name tensors ``out_N``)."""
    import onnx
    proto = onnx.load_from_string(bytes(model))
    by_name = {o.name: o for o in proto.graph.output}
    for blob in outputs:
        inner = graph_outputs.get(blob)
        if inner is None or inner == blob or inner not in by_name:
            continue
        proto.graph.node.append(onnx.helper.make_node("Identity", [inner], [blob],
                                                      name=f"output/{blob}"))
        by_name[inner].name = blob
    return proto.SerializeToString()


def _compare(path, net, calib, batch, outputs):
    """{output: max |int8 file - float32| / max |float32|} on the first calibration items."""
    from ..onnx_path import runtime
    with open(path, "rb") as f:
        run = runtime.session("onnxruntime", f.read(), None, None)
    feed = {k: np.ascontiguousarray(v[:batch]) for k, v in calib.feeds.items()}
    if len(next(iter(feed.values()))) < batch:
        return {}
    names = [o.name for o in run.session.get_outputs()]
    got = dict(zip(names, run({i.name: feed[i.name] for i in run.session.get_inputs()})))
    for n, x in feed.items():
        net.setInput(x, n)
    ref = dict(zip(outputs, net.forward(outputs)))
    out = {}
    for name in outputs:
        if name in got and name in ref:
            a = np.asarray(ref[name], np.float64)
            out[name] = float(np.abs(np.asarray(got[name], np.float64).reshape(a.shape) - a)
                              .max() / max(float(np.abs(a).max()), 1e-30))
    return out
