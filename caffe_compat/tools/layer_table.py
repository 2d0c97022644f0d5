"""``caffe-compat layers``: the layer types and the engines that run each (the table of
:mod:`caffe_compat.rules.registry`, its cost tables after the engines), or one type's row with
the fields each engine honours, or, for a net definition, the engine pycaffe's and cv2.dnn's
forwards run it on and why."""
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
    """Print which engine runs pycaffe's and cv2.dnn's forward of the net at ``path``."""
    import warnings

    from ..array_net.net import build_array_net
    from ..diagnostics.engine_notice import EngineFallbackWarning
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
    else:
        print("pycaffe forward (caffe.Net, TEST): torch engine "
              f"({why[0] if why else 'the definition does not build; the torch engine says why'})")
    from .. import dnn, lite
    missing = lite.LiteNet.unsupported_types([lp for lp in net.layer if lp.type != "Input"])
    if missing:
        print(f"cv2.dnn forward: torch path (no torch-free converter for {', '.join(missing)})")
        return 0
    if not weights:
        print("cv2.dnn forward: torch-free path for every layer type (give --weights to check "
              "the settings and weights as the reader does)")
        return 0
    saved, lite.MODE = lite.MODE, "on"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EngineFallbackWarning)
            reader = dnn.readNetFromCaffe(path, weights)
    finally:
        lite.MODE = saved
    if reader.engine == "torch-free":
        print("cv2.dnn forward: torch-free path (ONNX on onnxruntime or OpenCV 5's reader; "
              "torch not imported)")
    else:
        print(f"cv2.dnn forward: torch path ({reader.engine_reason})")
    return 0


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
