"""Shared pieces of the export tests: export a net, run the file in onnxruntime, compare."""
import numpy as np
import pytest
import torch

from caffe_compat.export import export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

# onnxruntime sums convolutions, products and reductions in other orders than torch (float32
# reassociation, ~1e-7 of the scale per layer, a few 1e-6 over the deepest nets); 1e-4 of the
# output's scale is the bound the export promises.
ONNX_TOL = 1e-4


def run_onnx(path, inputs, outputs=None):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = outputs or [o.name for o in sess.get_outputs()]
    feed = {i.name: np.ascontiguousarray(inputs[i.name], np.float32) for i in sess.get_inputs()}
    return dict(zip(names, sess.run(names, feed)))


def run_ours(net, inputs, outputs):
    with torch.no_grad():
        out = net.forward(blobs=outputs, **inputs)
    return {k: out[k].numpy() for k in outputs}


def export_and_run(net, tmp_path, inputs, outputs, name="net"):
    """(onnxruntime's outputs, ours) for ``net`` exported with ``outputs``."""
    path = tmp_path / f"{name}.onnx"
    export_onnx(net, path, outputs=outputs)
    return run_onnx(path, inputs, outputs), run_ours(net, inputs, outputs)
