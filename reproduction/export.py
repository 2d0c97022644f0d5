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

ONNX uses torch's TorchScript-based exporter (``dynamo=False``), which needs only the ``onnx``
package (for the checker); every file is checked with ``onnx.checker`` (full check) before it is
moved into place, and the CLI compares onnxruntime's output with ours when onnxruntime is
installed. The state_dict keys are ``<layer>.<blob>`` (``conv1.weight``), the format of
``caffe-compat convert``. Files are written atomically.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

from caffe_compat.errors import CaffeCompatError, NetError
from caffe_compat.io.atomic import atomic_path

__all__ = ["ExportModule", "load_model", "export_state_dict", "export_torchscript",
           "export_onnx", "export", "onnxruntime_check", "onnx_metadata", "FORMATS", "main"]

FORMATS = ("onnx", "torchscript", "state_dict")
_SKIP = {"Silence", "Input"}


class ExportModule(nn.Module):
    """A traceable ``forward(data) -> output`` view of a test-phase :class:`caffe_compat.Net`.

    It runs the net's own layer modules in the net's order (shape-dependent geometry such as
    Pooling's is fixed by tracing for the example's size). Loss, Silence and Accuracy layers are
    left out; inputs other than ``input`` (e.g. the deploy nets' unused ``label``) are not
    needed.
    """

    def __init__(self, net, input="data", output=None):
        super().__init__()
        if input not in net.inputs:
            raise NetError(f"net '{net.name}' has no input blob '{input}' (inputs: "
                           f"{net.inputs})")
        outputs = [o for o in net.outputs if o != input]
        if output is None:
            if len(outputs) != 1:
                raise NetError(f"net '{net.name}' has outputs {outputs}; name one to export")
            output = outputs[0]
        self.net = net
        self.input_name = input
        self.output_name = output
        self.input_shape = tuple(net.blob_shape(input))
        self._steps = []
        needed = {output}
        for node in reversed(net.graph.layers):     # keep only layers the output depends on
            if node.type in _SKIP or not needed.intersection(node.tops):
                continue
            module = net.layer(node.name)
            if getattr(module, "is_loss", False) or node.type == "Accuracy":
                continue
            needed.update(node.bottoms)
            self._steps.append(node)
        self._steps.reverse()
        missing = needed - {input} - {t for n in self._steps for t in n.tops}
        if missing:
            raise NetError(f"net '{net.name}': blob(s) {sorted(missing)} needed for "
                           f"'{output}' come from other inputs; only '{input}' is exported")

    def forward(self, data):
        values = {self.input_name: data}
        for node in self._steps:
            module = self.net.layer(node.name)
            tops = module(*[values[b] for b in node.bottoms])
            if isinstance(tops, torch.Tensor):
                tops = (tops,)
            for name, t in zip(node.tops, tops):
                values[name] = t
        return values[self.output_name]


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


def _traced(net, output=None):
    module = ExportModule(net, output=output).eval()
    example = _example(module)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # torch 2.9+ marks TorchScript deprecated; tracing still works and is what is asked for
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        traced = torch.jit.trace(module, (example,), check_trace=False)
    return module, traced, example


def export_torchscript(net, path, output=None):
    """A traced TorchScript module (``torch.jit.load(path)(data) -> output``), atomically."""
    _, traced, _ = _traced(net, output)
    with atomic_path(path, suffix=".pt") as tmp:
        traced.save(tmp)
    return path


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
    from models import detect_architecture
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
        from models.registry import sha256_file
        meta["source_caffemodel"] = os.path.basename(os.fspath(weights))
        meta["source_caffemodel_sha256"] = sha256_file(weights)
    return meta


def export_onnx(net, path, opset=17, dynamic_batch=True, output=None, metadata=None):
    """An ONNX model (input ``data``, output e.g. ``fc5``, batch axis free when
    ``dynamic_batch``), checked with ``onnx.checker.check_model(full_check=True)``.
    ``metadata``: ``{key: text}`` stored as the file's ``metadata_props`` (default: what
    :func:`onnx_metadata` says of ``net``, without the caffemodel's hash)."""
    try:
        import onnx
    except ImportError:
        raise CaffeCompatError("ONNX export needs the 'onnx' package (pip install onnx)") from None
    module = ExportModule(net, output=output).eval()
    example = _example(module)
    names = dict(input_names=[module.input_name], output_names=[module.output_name])
    axes = {module.input_name: {0: "batch"}, module.output_name: {0: "batch"}} \
        if dynamic_batch else None
    with atomic_path(path, suffix=".onnx") as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            torch.onnx.export(module, (example,), tmp, dynamo=False, opset_version=int(opset),
                              dynamic_axes=axes, do_constant_folding=True, **names)
        model = onnx.load(tmp)
        if metadata is None:
            metadata = onnx_metadata(net, output=output)
        if not dynamic_batch and "input_layout" in metadata:
            metadata = dict(metadata, input_layout=metadata["input_layout"].split(" (")[0]
                            .replace("N x", f"{int(example.shape[0])} x", 1))
        onnx.helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
        onnx.save(model, tmp)
        try:
            onnx.checker.check_model(onnx.load(tmp), full_check=True)
        except Exception as e:  # noqa: BLE001 - onnx raises ValidationError and others
            raise CaffeCompatError(f"{path}: the exported ONNX model fails the checker: "
                                   f"{e}") from None
    return path


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
