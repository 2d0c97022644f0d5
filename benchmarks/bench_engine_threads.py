"""Do the engines' thread pools slow each other, torch, or the caller's own cv2 work?

    python benchmarks/bench_engine_threads.py [--nets squeezenet11 mobilenet_v2] [--batch 1]
                                              [--threads 2] [--seconds 3]

For each net (random weights) exported to ONNX, in alternating blocks of calls
(:mod:`benchmarks.zoo_timing`), in one run:

* ``ort spin=0`` / ``ort spin=1``: onnxruntime with ``session.intra_op.allow_spinning`` off and
  on (its default), a forward alone;
* ``openvino pin=0|1``: OpenVINO with ``ENABLE_CPU_PINNING`` off and on (its default);
* ``prep+ort spin=0|1``, ``prep+openvino pin=0|1``, ``prep+torch``: cv2 preprocessing of a 640 x 480
  frame (resize, blobFromImage, cv2's own threads) then the forward, back to back, as an
  application's loop runs;
* ``torch after ort spin=0|1`` / ``after openvino``: the time of our torch forward called
  right after the engine's forward (the engine's threads may still spin on the cores torch
  needs); ``torch after torch`` is the baseline.

Printed: the median milliseconds of each (of the timed part only) and the ratios that answer
the question: spinning's own gain, its cost in the mixed loop, and the slowdown of the next
torch call. caffe_compat's onnxruntime sessions for a net that keeps running spin unless
``CAFFE_COMPAT_ORT_SPINNING=0`` (``caffe_compat.onnx_path.runtime.tuned_session``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.bench_dnn import NETS, _preprocess, net_files  # noqa: E402
from benchmarks.zoo_timing import raw_sessions, rounds  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=["squeezenet11", "mobilenet_v2"],
                   choices=list(NETS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    import cv2

    from caffe_compat import Net
    from caffe_compat.export import export_onnx
    from caffe_compat.proto import caffe_pb2
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    work = tempfile.mkdtemp(prefix="bench-threads-")
    print(f"{args.threads} threads, batch {args.batch}; median ms of the timed part")
    for name in args.nets:
        text, model = net_files(name)
        net = Net(text, phase="test")
        net.copy_from(caffe_pb2.NetParameter.FromString(model))
        path = os.path.join(work, f"{name}.onnx")
        export_onnx(net, path)
        size, channels = NETS[name][1], NETS[name][2]
        x = np.random.default_rng(0).uniform(-1, 1, (args.batch, channels) + size).astype(
            np.float32)
        xt = torch.from_numpy(x)
        spin0 = raw_sessions(path, args.threads, x.shape, ort_spinning=False, ov_pinning=False)
        spin1 = raw_sessions(path, args.threads, x.shape, ort_spinning=True, ov_pinning=True)
        prep = _preprocess(size, channels, args.batch)

        def ours():
            with torch.inference_mode():
                net.forward(data=xt, keep_blobs=False)

        def torch_after(engine_call):
            def run():
                engine_call()
                t = time.perf_counter()
                ours()
                return time.perf_counter() - t
            return run

        engines = {"ort spin=0": lambda: spin0["onnxruntime"](x),
                   "ort spin=1": lambda: spin1["onnxruntime"](x)}
        if "openvino" in spin0:
            engines["openvino pin=0"] = lambda: spin0["openvino"](x)
            engines["openvino pin=1"] = lambda: spin1["openvino"](x)
        engines["torch"] = ours
        runs = {k: f for k, f in engines.items() if k != "torch"}
        runs.update({f"prep+{k}": (lambda f=f: (prep(), f())) for k, f in engines.items()})
        inner = {f"torch after {k}": torch_after(f) for k, f in engines.items()}
        # "torch after X": only the torch call is kept (the wrapper's time is discarded)
        partial = {}
        for k, f in inner.items():
            partial[k] = []
            runs[k] = (lambda f=f, k=k: partial[k].append(f()))
        med, _ = rounds(runs, args.seconds)
        for k, v in partial.items():
            med[k] = float(np.median(v))
        print(f"\n{name}")
        for k, v in med.items():
            print(f"  {k:<28} {v * 1000:8.2f} ms")
        if "openvino pin=0" in med:
            print(f"  pinning's gain alone: {med['openvino pin=0'] / med['openvino pin=1']:.3f};"
                  f" in the mixed loop: "
                  f"{med['prep+openvino pin=0'] / med['prep+openvino pin=1']:.3f}")
        print(f"  spinning's gain alone: {med['ort spin=0'] / med['ort spin=1']:.3f}; in the "
              f"mixed loop: {med['prep+ort spin=0'] / med['prep+ort spin=1']:.3f} (> 1: "
              "spinning faster)")
        base = med["torch after torch"]
        for k in inner:
            print(f"  {k:<28} / torch after torch: {med[k] / base:.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
