"""Export a loaded Caffe model to a PyTorch state_dict, TorchScript or ONNX.

    python -m reproduction.export --model deploy.prototxt --weights W.caffemodel \\
        --format onnx|torchscript|state_dict --out F [--input-size 96 96] [--opset 17]

``--model`` may be omitted (the zoo's deploy net of the weights' architecture) or be a zoo key.
The exported graph maps the net's input blob (``data``, N x 1 x H x W, batch size free) to its
output blob (``fc5`` for CNN+D, ``conv4`` for SR-FCN) with Caffe's arithmetic: the pooling
geometry (ceil mode, clipped windows) is fixed for the input size H x W. As in the evaluation,
the input is what Caffe saw: a MATLAB-oriented face ``video(:,:,n)`` goes in transposed.

How to feed the exported net is written into the ONNX file itself (``metadata_props``, read
with ``onnxruntime.InferenceSession(f).get_modelmeta().custom_metadata_map`` or
``onnx.load(f).metadata_props``) and printed by the command: ``input_layout`` (N x 1 x H x W,
float32), ``input_scaling`` (``single(Y)/255``, Y the luma of ``rgb2ycbcr``), ``input_orientation``
(each face transposed, as matcaffe hands MATLAB's ``video(:,:,n)`` to Caffe), ``output``, and the
source: ``source_caffemodel`` and ``source_caffemodel_sha256``, ``deploy``, ``architecture``.

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
           "export_onnx", "export", "onnxruntime_check", "onnx_metadata", "FORMATS", "main"]

FORMATS = ("onnx", "torchscript", "state_dict")

# the paper's nets have one input ("data") and one output; any net: caffe_compat.export
ExportModule = generic_export.ExportModule


def load_model(weights, model=None, input_size=None):
    """A test-phase net with ``weights`` checked and loaded (see :func:`lq_models.load_net`)."""
    from lq_models import load_net
    return load_net(weights, model=model, input_size=input_size)


def _example(module, batch=2, seed=0):
    shape = (batch,) + tuple(module.input_shape[1:])
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float32)


def export_state_dict(net, path):
    """``torch.save`` of ``net.caffe_state_dict()`` (keys ``<layer>.<blob>``), atomically."""
    from caffe_compat.tools.files import save_state_dict
    state = {k: v.detach().cpu().clone() for k, v in net.caffe_state_dict().items()}
    save_state_dict(state, path)
    return path


def export_torchscript(net, path, output=None):
    """A traced TorchScript module (``torch.jit.load(path)(data) -> output``), atomically."""
    return generic_export.export_torchscript(net, path, output=output)


# what the paper's nets expect (prepare_dataset.m, generate_train.m and matcaffe)
_SCALING = ("single(Y)/255, Y = luma of rgb2ycbcr (uint8, 16..235): values in [0, 1], no mean "
            "subtracted")
_ORIENTATION = ("each image transposed: blob[n, 0, h, w] = image[w, h] for an image indexed "
                "[row, column] (matcaffe reads MATLAB's first dimension as width; the nets "
                "were trained and evaluated on video(:,:,n) handed to Caffe that way)")
_OUTPUTS = {"cnnd": "valence of each face (one value per item)",
            "srfcn": "restored Y/255 of the input's centre, 16 pixels smaller in H and W, in "
                     "the input's orientation"}


def onnx_metadata(net, weights=None, output=None):
    """``{key: text}`` saying how to feed ``net``'s export (the ``metadata_props`` of the ONNX
    file; see the module doc). ``weights``: the caffemodel's path, for its name and sha256.
    Scaling and orientation are stated for the paper's architectures only."""
    from lq_models import detect_architecture
    module = ExportModule(net, output=output)
    shape = module.input_shape
    meta = {"input_name": module.input_name,
            "input_layout": f"NCHW float32: N x {' x '.join(str(int(d)) for d in shape[1:])} "
                            "(N free unless exported with a static batch)",
            "output_name": module.output_name}
    arch = detect_architecture(net)
    if arch is not None:
        meta.update(architecture=arch.description, input_scaling=_SCALING,
                    input_orientation=_ORIENTATION, output=_OUTPUTS.get(arch.family, ""))
    source = getattr(net, "source", None)
    if source:
        meta["deploy"] = os.path.basename(os.fspath(source))
    if weights is not None:
        from lq_models.registry import sha256_file
        meta["source_caffemodel"] = os.path.basename(os.fspath(weights))
        meta["source_caffemodel_sha256"] = sha256_file(weights)
    return meta


def export_onnx(net, path, opset=17, dynamic_batch=True, output=None, metadata=None):
    """An ONNX model (input ``data``, output e.g. ``fc5``, batch axis free when
    ``dynamic_batch``), checked with ``onnx.checker.check_model(full_check=True)``.
    ``metadata``: ``{key: text}`` stored as the file's ``metadata_props`` (default: what
    :func:`onnx_metadata` says of ``net``, without the caffemodel's hash)."""
    batch = 2                      # a static batch is the 2 items the exporter's example had
    if metadata is None:
        metadata = onnx_metadata(net, output=output)
    if not dynamic_batch and "input_layout" in metadata:
        metadata = dict(metadata, input_layout=metadata["input_layout"].split(" (")[0]
                        .replace("N x", f"{batch} x", 1))
    return generic_export.export_onnx(net, path, outputs=[output] if output else None,
                                      dynamic_batch=dynamic_batch, opset=opset,
                                      metadata=metadata, batch=batch)


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
        meta = onnx_metadata(net, args.weights)
        if args.format == "onnx":
            kwargs = dict(opset=args.opset, dynamic_batch=not args.static_batch, metadata=meta)
        export(net, args.format, args.out, **kwargs)
        print(f"wrote {args.out} ({args.format}, input {net.blob_shape('data')[1:]} per item)")
        print("how to feed it" + (" (stored in the file's metadata_props):"
                                  if args.format == "onnx" else ":"))
        for key, value in meta.items():
            print(f"  {key}: {value}")
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
