"""``caffe-compat export``: a Caffe net (deploy prototxt + caffemodel) to ONNX, TorchScript or
PyTorch source (``--format``; the flags: ``caffe-compat export -h``).

The net is built in the TEST phase with the deploy file's input shapes; the batch axis stays
free (``--static-batch N`` fixes it). Outputs: the ``--output`` blobs, else the net's outputs
(losses and Accuracy left out). Files are written atomically. ONNX: checked by ``onnx.checker``
(full check), then run by onnxruntime (when installed) on a batch of 2 beside our forward; a
difference above 1e-4 of an output's scale exits 1 (the file stays). ``--format pytorch``
writes the folder DIR (model.py, weights.safetensors, README.md, ``--pth``: weights.pth) after
the check of :mod:`caffe_compat.export.pytorch.check`; a failure exits 1, DIR left as it was.
``--precision int8``: :mod:`caffe_compat.export.int8`. A tqdm line on stderr names the step
running; the results go to stdout. ``caffe_compat.cli.main`` registers :data:`COMMAND`.
"""
from __future__ import annotations

import sys

from ..cli.registry import caffe_flag as _flag
from ..errors import CaffeCompatError


def _arguments(p):
    _flag(p, "model", required=True, help="the deploy net definition (prototxt)")
    _flag(p, "weights", required=True, help="the caffemodel (or HDF5 weights)")
    _flag(p, "format", choices=("onnx", "torchscript", "pytorch"), default="onnx",
          help="onnx (default), torchscript, or pytorch (a folder of torch source)")
    _flag(p, "out", required=True, help="the file to write (pytorch: the folder)")
    _flag(p, "output", action="append", default=None, metavar="BLOB",
          help="a blob to export (repeatable; default: the net's outputs)")
    _flag(p, "opset", type=int, default=17, help="ONNX opset (default 17)")
    _flag(p, "static_batch", type=int, default=None, metavar="N",
          help="ONNX: declare the batch size N instead of leaving it free")
    _flag(p, "no_check", action="store_true",
          help="skip the comparison with our forward (ONNX: onnxruntime's run)")
    _flag(p, "precision", choices=("float32", "int8"), default="float32",
          help="onnx: float32 (default) or int8 (needs --calibration)")
    _flag(p, "calibration", default=None, metavar="SRC",
          help="int8: a folder of images or an HDF5 list file to calibrate on")
    _flag(p, "calibration_limit", type=int, default=64, metavar="N",
          help="int8: calibration items read (default 64)")
    _flag(p, "mean", default=None, help="int8 images: mean per channel (e.g. 104,117,123)")
    _flag(p, "scale", type=float, default=1.0, help="int8 images: scale after the mean")
    _flag(p, "swap_rb", action="store_true", help="int8 images: feed RGB instead of BGR")
    _flag(p, "per_tensor", action="store_true", help="int8: weights per tensor")
    _flag(p, "pth", action="store_true", help="pytorch: also write weights.pth")
    _flag(p, "compile_check", action="store_true",
          help="pytorch: also run the module under torch.compile in the check (slow)")
    _flag(p, "preprocess", action="append", default=None, metavar="KEY=VALUE",
          help="pytorch: a preprocessing fact for the README (mean=104,117,123 "
               "channel_order=BGR scale=1; repeatable)")


def _stages(count):
    """``stage(what)`` for each of ``count`` steps of an export: one tqdm line on stderr
    saying what runs and the time so far (a large net's export and check take a minute or
    more); ``stage(None)`` ends the line before the results are printed."""
    from tqdm import tqdm
    bar = None

    def stage(what):
        nonlocal bar
        if bar is None and what is not None:
            bar = tqdm(total=count, desc=what, file=sys.stderr, leave=False, dynamic_ncols=True,
                       bar_format="export: {desc} [{n_fmt}/{total_fmt}, {elapsed}]")
        elif bar is not None and not bar.disable:
            bar.n += 1                      # shown with the next stage's name
            if what is None:
                bar.close()
            else:
                bar.set_description_str(what)
    return stage


def run_pytorch(args, net, outputs, stage):
    from . import export_pytorch
    from .pytorch import ExportCheckError
    prep = {}
    for item in args.preprocess or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CaffeCompatError(f"--preprocess {item!r}: expected KEY=VALUE, e.g. "
                                   "mean=104,117,123")
        prep[key] = value
    stage("writing the PyTorch package" + ("" if args.no_check else
                                           " and running it beside our forward"))
    try:
        report = export_pytorch(net, args.out, outputs, model=args.model, weights=args.weights,
                                preprocessing=prep, pth=args.pth, check=not args.no_check,
                                compile=args.compile_check)
    except ExportCheckError as e:
        stage(None)
        print(f"caffe-compat export: error: {e}; please report the net", file=sys.stderr)
        return 1
    finally:
        stage(None)
    print(f"wrote {args.out}/ (model.py, weights.safetensors{', weights.pth' * args.pth}, "
          f"README.md; inputs {', '.join(net.inputs)}; outputs {', '.join(outputs)})")
    for batch, figures in (report or {}).get("outputs", {}).items():
        for name, d in figures.items():
            print(f"generated module vs caffe_compat, batch {batch}, {name}: max |diff| "
                  f"{d:.2e} of its scale")
    return 0


def run_export(args):
    from ..net.core import Net
    from . import compare_onnxruntime, default_outputs, export_onnx, export_torchscript
    if args.precision == "int8":
        from .int8 import run_int8
        return run_int8(args, _stages)
    if args.format == "onnx" and args.opset < 17:
        raise CaffeCompatError(f"--opset {args.opset}: the converters write opset-17 "
                               "operators; use 17 or later")
    stage = _stages(3 if args.format == "onnx" and not args.no_check else 2)
    try:
        stage("reading the net and its weights")
        net = Net(args.model, args.weights, phase="test")
        outputs = args.output or default_outputs(net)
        if args.format == "pytorch":
            return run_pytorch(args, net, outputs, stage)
        if args.format == "torchscript":
            stage("writing the TorchScript file")
            export_torchscript(net, args.out, outputs=outputs)
            stage(None)
            print(f"wrote {args.out} (TorchScript; outputs {', '.join(outputs)})")
            return 0
        stage("writing the ONNX file")
        export_onnx(net, args.out, outputs=outputs, dynamic_batch=args.static_batch is None,
                    opset=args.opset, batch=args.static_batch)
        diffs = None
        if not args.no_check:
            stage("running it on onnxruntime beside our forward")
            diffs = compare_onnxruntime(net, args.out, batch=args.static_batch or 2)
    finally:
        stage(None)
    batch = "free" if args.static_batch is None else str(args.static_batch)
    print(f"wrote {args.out} (ONNX opset {args.opset}, batch {batch}, float32; inputs "
          f"{', '.join(net.inputs)}; outputs {', '.join(outputs)})")
    if args.no_check:
        return 0
    if diffs is None:
        print("onnxruntime is not installed: the file was not run (pip install onnxruntime)")
        return 0
    for name, d in diffs.items():
        print(f"onnxruntime vs caffe_compat, {name}: max |diff| {d:.2e} of its scale")
    # the bound the export promises (the engines' trust check): float32 sums in onnxruntime's
    # order against ours
    from ..onnx_path.trust import TRUST_TOL as TOLERANCE
    bad = {k: d for k, d in diffs.items() if not d <= TOLERANCE}
    if bad:
        print(f"caffe-compat export: error: onnxruntime differs from our forward by more than "
              f"{TOLERANCE:g} on {', '.join(bad)}; please report the net", file=sys.stderr)
        return 1
    return 0


# (add_arguments, run, help) for caffe_compat.cli.main.register_command("export", ...)
COMMAND = (_arguments, run_export,
           "export a deploy net and its weights to ONNX, TorchScript or PyTorch source")
