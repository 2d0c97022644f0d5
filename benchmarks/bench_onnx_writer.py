"""Which library writes the torch-free path's ONNX bytes: the ``onnx`` package's helpers
(``onnx.helper`` + ``SerializeToString``) or the project's wire writer
(``caffe_compat.onnx_path.onnx_wire``), on what a one-shot cv2.dnn program pays.

Measured, in alternating rounds: (1) the import a process pays before its first model, in a
fresh process after ``import numpy`` (what a cv2.dnn program has already imported): ``import
onnx`` against ``import caffe_compat.onnx_path.onnx_wire``, with a bare ``python -c pass`` as the
floor; (2) writing a model of ``--layers`` Conv nodes with ``--weights-mb`` MB of float32
initializers: node and tensor messages built and the whole model serialized to bytes.

    python benchmarks/bench_onnx_writer.py --rounds 15
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np


def _process_ms(code):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def _arrays(layers, weights_mb):
    per = max(1, int(weights_mb * (1 << 20) / 4 / layers))
    rng = np.random.default_rng(0)
    return [rng.standard_normal(per, dtype=np.float32) for _ in range(layers)]


def _with_onnx(arrays):
    import onnx
    from onnx import TensorProto, helper
    nodes, inits = [], []
    for i, a in enumerate(arrays):
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, a.shape, a.tobytes(),
                                        raw=True))
        nodes.append(helper.make_node("Conv", [f"x{i}", f"w{i}"], [f"x{i + 1}"], name=f"c{i}",
                                      kernel_shape=[3, 3], strides=[1, 1],
                                      pads=[1, 1, 1, 1], group=1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x0", TensorProto.FLOAT, [1, 3, 8, 8])], [helper.make_tensor_value_info(
            f"x{len(arrays)}", TensorProto.FLOAT, [1, 3, 8, 8])], inits)
    return helper.make_model(graph).SerializeToString()


def _with_wire(arrays):
    from caffe_compat.onnx_path import onnx_wire as w
    nodes = [w.node("Conv", [f"x{i}", f"w{i}"], [f"x{i + 1}"], f"c{i}",
                    {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                     "group": 1}) for i in range(len(arrays))]
    inits = [w.tensor(f"w{i}", a) for i, a in enumerate(arrays)]
    return w.model("g", nodes, inits, [("x0", (1, 3, 8, 8))],
                   [(f"x{len(arrays)}", (1, 3, 8, 8))])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--layers", type=int, default=60)
    ap.add_argument("--weights-mb", type=float, default=25.0)
    args = ap.parse_args(argv)
    imports = {"floor (numpy only)": "import numpy",
               "onnx": "import numpy, onnx",
               "onnx_wire": "import numpy, caffe_compat.onnx_path.onnx_wire"}
    times = {k: [] for k in imports}
    for _ in range(args.rounds):
        for name, code in imports.items():
            times[name].append(_process_ms(code))
        time.sleep(0.05)
    floor = statistics.median(times["floor (numpy only)"])
    print(f"process with the import, median of {args.rounds} (ms; beyond numpy's process):")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:20s} {med:7.1f}   +{med - floor:6.1f}")
    arrays = _arrays(args.layers, args.weights_mb)
    assert _with_onnx(arrays[:2]) and _with_wire(arrays[:2])
    writes = {"onnx": [], "onnx_wire": []}
    for _ in range(args.rounds):
        for name, fn in (("onnx", _with_onnx), ("onnx_wire", _with_wire)):
            start = time.perf_counter()
            fn(arrays)
            writes[name].append((time.perf_counter() - start) * 1000)
    print(f"writing {args.layers} Conv nodes and {args.weights_mb:g} MB of weights, median (ms):")
    for name, values in writes.items():
        print(f"  {name:20s} {statistics.median(values):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
