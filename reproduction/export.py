"""Export a loaded Caffe model to a PyTorch state_dict, TorchScript or ONNX.

    python -m reproduction.export --model deploy.prototxt --weights W.caffemodel \\
        --format onnx|torchscript|state_dict --out F [--input-size 96 96] [--opset 17]

``--model`` may be omitted (the zoo's deploy net of the weights' architecture) or be a zoo key.
The exported graph maps the net's input blob (``data``, N x 1 x H x W, batch size free) to its
output blob (``fc5`` for CNN+D, ``conv4`` for SR-FCN) with Caffe's arithmetic: the pooling
geometry (ceil mode, clipped windows) is fixed for the input size H x W. As in the evaluation,
the input is what Caffe saw: a MATLAB-oriented face ``video(:,:,n)`` goes in transposed.

The ONNX and TorchScript files come from :mod:`caffe_compat.export` (any net: one ONNX converter
per Caffe layer type, opset 17, batch axis free); every ONNX file is checked with
``onnx.checker`` (full check) before it is moved into place, and the CLI compares onnxruntime's
output with ours when onnxruntime is installed. The state_dict keys are ``<layer>.<blob>``
(``conv1.weight``), the format of ``caffe-compat convert``. Files are written atomically.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

from caffe_compat import export as generic_export
from caffe_compat.errors import CaffeCompatError

__all__ = ["ExportModule", "load_model", "export_state_dict", "export_torchscript",
           "export_onnx", "export", "onnxruntime_check", "FORMATS", "main"]

FORMATS = ("onnx", "torchscript", "state_dict")

# the paper's nets have one input ("data") and one output; any net: caffe_compat.export
ExportModule = generic_export.ExportModule


def load_model(weights, model=None, input_size=None):
    """A test-phase net with ``weights`` checked and loaded (see :func:`models.load_net`)."""
    from models import load_net
    return load_net(weights, model=model, input_size=input_size)


def _example(module, batch=2, seed=0):
    shape = (batch,) + tuple(module.input_shape[1:])
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float32)


def export_state_dict(net, path):
    """``torch.save`` of ``net.caffe_state_dict()`` (keys ``<layer>.<blob>``), atomically."""
    from caffe_compat.tools import save_state_dict
    state = {k: v.detach().cpu().clone() for k, v in net.caffe_state_dict().items()}
    save_state_dict(state, path)
    return path


def export_torchscript(net, path, output=None):
    """A traced TorchScript module (``torch.jit.load(path)(data) -> output``), atomically."""
    return generic_export.export_torchscript(net, path, output=output)


def export_onnx(net, path, opset=17, dynamic_batch=True, output=None, metadata=None):
    """An ONNX model (input ``data``, output e.g. ``fc5``, batch axis free when
    ``dynamic_batch``), checked with ``onnx.checker.check_model(full_check=True)``.
    ``metadata``: ``{key: text}`` stored as the file's ``metadata_props``."""
    # a static batch is the 2 items the exporter's example had
    return generic_export.export_onnx(net, path, outputs=[output] if output else None,
                                      dynamic_batch=dynamic_batch, opset=opset,
                                      metadata=metadata, batch=2)


def export(net, fmt, path, **kwargs):
    """Dispatch on ``fmt`` in :data:`FORMATS`."""
    if fmt == "onnx":
        return export_onnx(net, path, **kwargs)
    if fmt == "torchscript":
        return export_torchscript(net, path, output=kwargs.get("output"))
    if fmt == "state_dict":
        return export_state_dict(net, path)
    raise CaffeCompatError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


def onnxruntime_check(net, path, batch=4, seed=1):
    """Max relative difference between onnxruntime and our forward on a random batch, relative
    to our output's largest magnitude (None when onnxruntime is not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    module = ExportModule(net).eval()
    x = _example(module, batch=batch, seed=seed)
    with torch.no_grad():
        ours = module(x).numpy()
    sess = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    theirs = sess.run(None, {module.input_name: x.numpy()})[0]
    scale = max(float(np.abs(ours).max()), np.finfo(np.float32).tiny)
    return float(np.abs(theirs - ours).max()) / scale


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reproduction.export",
        description="Export a Caffe model (deploy prototxt + caffemodel) to ONNX, TorchScript "
                    "or a PyTorch state_dict.")
    parser.add_argument("--model", default=None, help="deploy prototxt or zoo key (default: "
                        "the zoo's deploy net of the weights' architecture)")
    parser.add_argument("--weights", required=True, help="caffemodel")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="input height and width (default: the deploy net's)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--static-batch", action="store_true",
                        help="ONNX: fix the batch size instead of leaving it free")
    args = parser.parse_args(argv)
    try:
        net = load_model(args.weights, args.model, args.input_size)
        kwargs = {}
        if args.format == "onnx":
            kwargs = dict(opset=args.opset, dynamic_batch=not args.static_batch)
        export(net, args.format, args.out, **kwargs)
        print(f"wrote {args.out} ({args.format}, input {net.blob_shape('data')[1:]} per item)")
        if args.format == "onnx":
            diff = onnxruntime_check(net, args.out)
            if diff is None:
                print("onnxruntime is not installed: output not compared")
            else:
                print(f"onnxruntime vs caffe_compat on a random batch: max difference "
                      f"{diff:.2e} of the output's largest magnitude")
    except CaffeCompatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
