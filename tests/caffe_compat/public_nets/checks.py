"""The checks run on every public net (by the tests and by ``report.py``).

- ``onnxruntime_vs_ours``: our export run by onnxruntime on a batch of 2 seeded items, against
  our forward of the same batch (the batch axis is free in the export);
- ``onnxruntime_vs_opencv``: the export on the fixture's input against OpenCV 4's Caffe output
  (the committed fixture), i.e. does the ONNX file give OpenCV's answer;
- ``opencv_onnx_vs_ours``: the installed OpenCV's ``readNetFromONNX`` on the export (the
  migration path for OpenCV 5, which has no Caffe importer), against our forward.
Each figure is the largest ``max |a - b| / max |b|`` over the compared blobs.
"""
import functools
import pathlib

import numpy as np
import torch

from tests.caffe_compat.reference import scaled_error

from . import NETS, build, input_digest, net_input, slug

DATA = pathlib.Path(__file__).parent / "data"


@functools.lru_cache(maxsize=None)
def fixture(name):
    path = DATA / f"{slug(name)}.npz"
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def ours(net, inputs, outputs):
    with torch.no_grad():
        out = net.forward(blobs=outputs, **inputs)
    return {k: out[k].numpy() for k in outputs}


def onnxruntime_outputs(path, inputs, outputs):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = sess.run(outputs, {k: v for k, v in inputs.items()})
    return dict(zip(outputs, got))


def opencv_onnx_outputs(path, inputs, outputs):
    import cv2
    cv = cv2.dnn.readNetFromONNX(str(path))
    for k, v in inputs.items():
        cv.setInput(v, k)
    got = cv.forward(outputs)
    return {o: np.asarray(g) for o, g in zip(outputs, got)}


def worst(a, b):
    return max(scaled_error(a[k], b[k]) for k in b)


def check(name, path, opencv_onnx=True):
    """The three figures of the module doc for net ``name`` (export written to ``path``)."""
    from caffe_compat.export import export_onnx
    outputs = NETS[name]["outputs"]
    net, digest = build(name)
    export_onnx(net, path, outputs=outputs)
    result = {}
    batch = net_input(net, name, 2)
    result["onnxruntime_vs_ours"] = worst(onnxruntime_outputs(path, batch, outputs),
                                          ours(net, batch, outputs))
    one = net_input(net, name, 1)
    ref = fixture(name)
    assert str(ref["weights_sha256"]) == digest, f"{name}: seeded weights changed"
    assert str(ref["input_sha256"]) == input_digest(one), f"{name}: seeded input changed"
    opencv = {k: ref[f"out/{k}"] for k in outputs}
    result["onnxruntime_vs_opencv"] = worst(onnxruntime_outputs(path, one, outputs), opencv)
    if opencv_onnx:
        result["opencv_onnx_vs_ours"] = worst(opencv_onnx_outputs(path, one, outputs),
                                              ours(net, one, outputs))
    return result
