"""``caffe-compat layers``: the layer types and the engines that run each (the table of
:mod:`caffe_compat.rules.registry`, its cost tables after the engines), or one type's row with
the fields each engine honours, or, for a net definition, the engine pycaffe's and cv2.dnn's
forwards run it on and why, on which device and in which precision (with the default settings:
``caffe.set_mode_cpu()``, ``DNN_TARGET_CPU``), and what cv2.dnn's ``DNN_TARGET_CPU_FP16``
computes in on this processor."""
from __future__ import annotations

from ..cli.registry import register_command


def _arguments(p):
    p.add_argument("type", nargs="?", help="one layer type: its engines and, where declared, "
                                           "what each does with its parameter fields; or a "
                                           "net definition (.prototxt): the engines its "
                                           "forwards run on")
    p.add_argument("--weights", help="with a net definition: its caffemodel (cv2.dnn's path "
                                     "is decided with the weights read)")


def _net_engines(path, weights):
    """Print which engine runs pycaffe's and cv2.dnn's forward of the net at ``path``, on
    which device and in which precision."""
    from ..array_net.net import build_array_net
    from ..io import prototxt as prototxt_io
    from ..rules import registry
    net = prototxt_io.read_net(path)
    types = sorted({lp.type for lp in net.layer})
    table = registry.table()
    print(f"{path}: {len(net.layer)} layers")
    for type_name in types:
        print(f"  {type_name:<24} {', '.join(table.get(type_name, [])) or '(no engine)'}")
    why = []
    arrays = build_array_net(net, "TEST", defer_fills=True, why=why)
    if arrays is not None:
        arrays.close()
        print("pycaffe forward (caffe.Net, TEST): array engine (numpy; torch not imported)")
        print(_PYCAFFE_ARRAYS)
    else:
        print("pycaffe forward (caffe.Net, TEST): torch engine "
              f"({why[0] if why else 'the definition does not build; the torch engine says why'})")
        print(_PYCAFFE_TORCH)
    _dnn_engine(path, weights, net)
    print(_cpu_fp16_line())
    return 0


# device and precision of each forward with the default settings (caffe.set_mode_cpu(),
# DNN_TARGET_CPU): every engine computes in float32 there, as Caffe's CPU mode
_PYCAFFE_ARRAYS = "  device: CPU (numpy); precision: float32"
_PYCAFFE_TORCH = "  device: CPU (torch; caffe.set_mode_gpu() puts it on CUDA); precision: float32"
_DNN_TORCH_FREE = "  device: CPU (DNN_TARGET_CPU); precision: {precision}"
_DNN_TORCH = ("  device: CPU (DNN_TARGET_CPU; DNN_TARGET_CUDA puts it on torch's CUDA device); "
              "precision: {precision}")


def _dnn_engine(path, weights, net):
    """Print the engine, device and precision of cv2.dnn's forward of ``net``."""
    import warnings

    from .. import dnn
    from .. import onnx_path
    from ..diagnostics.engine_notice import EngineFallbackWarning
    missing = onnx_path.TorchFreeNet.unsupported_types(
        [lp for lp in net.layer if lp.type != "Input"])
    if missing:
        print(f"cv2.dnn forward: torch path (no torch-free converter for {', '.join(missing)})")
        print(_DNN_TORCH.format(precision="float32"))
        return
    if not weights:
        print("cv2.dnn forward: torch-free path for every layer type (give --weights to check "
              "the settings and weights as the reader does)")
        print(_DNN_TORCH_FREE.format(precision="float32"))
        return
    saved, onnx_path.MODE = onnx_path.MODE, "on"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EngineFallbackWarning)
            reader = dnn.readNetFromCaffe(path, weights)
    finally:
        onnx_path.MODE = saved
    if reader.engine == "torch-free":
        print("cv2.dnn forward: torch-free path (ONNX on onnxruntime or OpenCV 5's reader; "
              "torch not imported)")
        print(_DNN_TORCH_FREE.format(precision=reader.precision))
    else:
        print(f"cv2.dnn forward: torch path ({reader.engine_reason})")
        print(_DNN_TORCH.format(precision=reader.precision))


def _cpu_fp16_line():
    """What ``setPreferableTarget(DNN_TARGET_CPU_FP16)`` computes in on this processor
    (:func:`caffe_compat.onnx_path.reduced.capability`; ``quantize()`` gives int8 anywhere)."""
    from ..onnx_path.reduced import HINTS, capability
    hint, why = capability()
    got = f"{HINTS[hint]} on OpenVINO" if hint else "float32, with a warning"
    return (f"cv2.dnn with DNN_TARGET_CPU_FP16 here: {got} ({why}); net.quantize(...): int8 "
            "(docs/from-cv2-dnn.md)")


def run(args):
    import os

    from ..rules import registry
    if args.type and (args.type.endswith(".prototxt") or os.path.isfile(args.type)):
        return _net_engines(args.type, args.weights)
    if not args.type:
        print(registry.format_table())
        return 0
    table = registry.table()
    if args.type not in table:
        from ..diagnostics.suggest import did_you_mean
        from ..errors import NetError
        hint = did_you_mean(args.type, table)
        raise NetError(f"unknown layer type '{args.type}'" + (f"; {hint}" if hint else ""))
    from ..rules.fields import declared
    print(f"{args.type}: {', '.join(table[args.type])}")
    costs = registry.table(registry.COSTS).get(args.type)
    if costs:
        print(f"  counted by: {', '.join(costs)} (cost tables)")
    for (engine, type_name), use in sorted(declared().items()):
        if type_name != args.type:
            continue
        print(f"  {engine}: honours {', '.join(sorted(use.honours - use.refuses)) or '-'}")
        if use.refuses:
            print(f"  {' ' * len(engine)}  refuses (another engine runs it) "
                  f"{', '.join(sorted(use.refuses))}")
        for name, why in sorted(use.no_effect.items()):
            print(f"  {' ' * len(engine)}  {name}: no effect ({why})")
    return 0


register_command("layers", _arguments, run,
                 "the layer types and the engines that run each (one type: its fields; a net: "
                 "the engines of its forwards)")
