"""Our compiled convolution kernels at small batches, against the same kernels of another tree,
and a CaffeNet's layers one by one against real Caffe.

    python benchmarks/bench_conv_kernels.py --before TREE [--threads 1 2] [--rounds 25]
    python benchmarks/bench_conv_kernels.py --layers WEIGHTS [--rounds 8]

``--before TREE``: the forward (``_exact_gemm.conv2d``) and both gradients (``conv2d_grads``)
of CaffeNet's five convolutions and three GoogLeNet-shaped layers at batch 1, and LeNet's two
and CIFAR-10 quick's first at their training batches, through this tree's compiled module and
TREE's (another checkout with its C extensions built: ``python setup.py build_ext --inplace``),
loaded side by side in one process and called in alternation (the order flipped every
round), so that both see the same machine. Each pair's outputs must be the same bits; printed:
the median milliseconds of each and their ratio (below 1: this tree is faster), per layer and
in total. Run it under ``taskset -c 0`` for the one-core case a held core leaves.

``--layers WEIGHTS``: pycaffe's per-layer passes of CaffeNet's deploy net
(../shared/public-nets/benchmark_nets/caffenet_deploy.prototxt, ``force_backward``) at 227 x 227, batch 1,
``net._forward(i, i)`` and ``net._backward(i, i)`` for each layer up to conv5, medians over
``--rounds`` rounds; run it with this tree's pycaffe and with a real Caffe's Python
(``OPENBLAS_NUM_THREADS=1`` for one thread) in turn to compare them.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, batch, input channels, input size, output channels, kernel, stride, pad, group)
LAYERS = [
    ("caffenet conv1", 1, 3, 227, 96, 11, 4, 0, 1),
    ("caffenet conv2", 1, 96, 27, 256, 5, 1, 2, 2),
    ("caffenet conv3", 1, 256, 13, 384, 3, 1, 1, 1),
    ("caffenet conv4", 1, 384, 13, 384, 3, 1, 1, 2),
    ("caffenet conv5", 1, 384, 13, 256, 3, 1, 1, 2),
    ("googlenet 1x1 at 14", 1, 480, 14, 192, 1, 1, 0, 1),
    ("googlenet 3x3 at 28", 1, 96, 28, 128, 3, 1, 1, 1),
    ("googlenet 1x1 at 7", 1, 832, 7, 384, 1, 1, 0, 1),
    ("lenet conv1", 64, 1, 28, 20, 5, 1, 0, 1),
    ("lenet conv2", 64, 20, 12, 50, 5, 1, 0, 1),
    ("cifar10 conv1", 100, 3, 32, 32, 5, 1, 2, 1),
]


def compiled_module(tree):
    """The ``_exact_gemm`` extension built in ``tree``, loaded under its own handle."""
    found = glob.glob(os.path.join(tree, "caffe_compat", "kernels", "_exact_gemm*.so")) + \
        glob.glob(os.path.join(tree, "caffe_compat", "kernels", "_exact_gemm*.pyd"))
    if not found:
        sys.exit(f"{tree}: no built _exact_gemm extension (python setup.py build_ext --inplace)")
    spec = importlib.util.spec_from_file_location("_exact_gemm", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call(module, what, arrays, geometry, threads):
    x, w, dy = arrays
    n, c, size, o, k, s, p, g = geometry
    out = (size + 2 * p - k) // s + 1
    if what == "forward":
        y = np.empty((n, o, out, out), np.float32)
        module.conv2d(x, w, y, s, s, p, p, 1, 1, g, True, threads)
        return [y]
    gx, gw = np.empty_like(x), np.empty_like(w)
    module.conv2d_grads(x, w, dy, gx, gw, s, s, p, p, 1, 1, g, threads)
    return [gx, gw]


def compare_trees(before, threads, rounds):
    mods = {"this tree": compiled_module(REPO), "before": compiled_module(before)}
    rng = np.random.default_rng(0)
    for t in threads:
        for what in ("forward", "gradients"):
            total = dict.fromkeys(mods, 0.0)
            print(f"\n{what}, {t} thread(s): median ms, this tree / before")
            for name, n, c, size, o, k, s, p, g in LAYERS:
                out = (size + 2 * p - k) // s + 1
                arrays = (rng.standard_normal((n, c, size, size), dtype=np.float32),
                          rng.standard_normal((o, c // g, k, k), dtype=np.float32),
                          rng.standard_normal((n, o, out, out), dtype=np.float32))
                geometry = (n, c, size, o, k, s, p, g)
                got = {key: _call(m, what, arrays, geometry, t) for key, m in mods.items()}
                for a, b in zip(got["this tree"], got["before"]):
                    if not np.array_equal(a.view(np.int32), b.view(np.int32)):
                        sys.exit(f"{name}: the two trees' {what} differ")
                times = {key: [] for key in mods}
                order = list(mods.items())
                for r in range(rounds):
                    for key, m in (order if r % 2 else order[::-1]):
                        start = time.perf_counter()
                        _call(m, what, arrays, geometry, t)
                        times[key].append(time.perf_counter() - start)
                med = {key: statistics.median(v) * 1e3 for key, v in times.items()}
                for key in med:
                    total[key] += med[key]
                print(f"  {name:22s} {med['this tree']:8.2f} {med['before']:8.2f}   "
                      f"{med['this tree'] / med['before']:.2f}")
            print(f"  {'total':22s} {total['this tree']:8.2f} {total['before']:8.2f}   "
                  f"{total['this tree'] / total['before']:.3f}")


def caffenet_layers(weights, rounds):
    import caffe
    from google.protobuf import text_format
    model = caffe.io.caffe_pb2.NetParameter()
    shared = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
    with open(os.path.join(shared, "public-nets", "benchmark_nets",
                           "caffenet_deploy.prototxt")) as f:
        text_format.Merge(f.read(), model)
    model.force_backward = True
    path = os.path.join(tempfile.mkdtemp(), "deploy.prototxt")
    with open(path, "w") as f:
        f.write(str(model))
    caffe.set_mode_cpu()
    net = caffe.Net(path, caffe.TEST, weights=weights)
    net.blobs["data"].reshape(1, 3, 227, 227)
    net.reshape()
    net.blobs["data"].data[...] = np.random.default_rng(0).uniform(
        -100, 100, (1, 3, 227, 227)).astype(np.float32)
    names = list(net._layer_names)
    end = names.index("conv5")
    fwd = [[] for _ in range(end + 1)]
    bwd = [[] for _ in range(end + 1)]
    top = np.random.default_rng(1).uniform(0, 1, net.blobs["conv5"].diff.shape)
    for r in range(rounds + 1):
        for i in range(end + 1):
            start = time.perf_counter()
            net._forward(i, i)
            if r:
                fwd[i].append(time.perf_counter() - start)
        net.blobs["conv5"].diff[...] = top
        for i in range(end, -1, -1):
            start = time.perf_counter()
            net._backward(i, i)
            if r:
                bwd[i].append(time.perf_counter() - start)
    print(f"{caffe.__file__}: median ms per layer, forward and backward")
    for i in range(end + 1):
        print(f"  {names[i]:8s} {statistics.median(fwd[i]) * 1e3:8.2f} "
              f"{statistics.median(bwd[i]) * 1e3:8.2f}")
    print(f"  {'total':8s} {sum(statistics.median(v) for v in fwd) * 1e3:8.2f} "
          f"{sum(statistics.median(v) for v in bwd) * 1e3:8.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", help="another tree with its C extensions built")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--layers", metavar="WEIGHTS",
                    help="CaffeNet's weights: time its layers through the importable caffe")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    if args.layers:
        caffenet_layers(args.layers, args.rounds or 8)
    elif args.before:
        compare_trees(args.before, args.threads, args.rounds or 25)
    else:
        ap.error("give --before TREE or --layers WEIGHTS")


if __name__ == "__main__":
    main()
