"""Convolution backward: the DFT route (caffe_compat.kernels.dft_conv) and Caffe's two gemms against torch's direct kernels.

    python benchmarks/bench_conv_backward.py [--batch 128] [--rounds 5] [--sweep]

Times, alternately in the same run, both gradients (input and weight) of CNN+D's conv2 and conv3
at 96x96 through ``dft_conv.conv2d_backward`` and through ``aten.convolution_backward``
(oneDNN) and, with the compiled kernel, through Caffe's own gemms in its summation order
(``blas_order.conv2d_grads``, the layer's direct route for large layers), prints
their ratios to oneDNN's (below 1 is faster),
the cost model's estimate and decision (``dft_conv.estimated_saving``, ``eligible``), and each
route's largest error against a float64 computation, relative to the gradient's largest
magnitude. ``--sweep`` adds the layer shapes the cost model was fitted on.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from caffe_compat.kernels import blas_order, dft_conv  # noqa: E402
from caffe_compat.kernels.memory import retain_freed_memory  # noqa: E402

# (name, batch, input channels, input size, output channels, kernel, pad)
CNND = [("CNN+D conv2", None, 64, 46, 128, 5, 0), ("CNN+D conv3", None, 128, 21, 256, 5, 0)]
SWEEP = [("SR-FCN-like conv2", 128, 64, 29, 128, 5, 0), ("5x5 128->256 @25", 128, 128, 25, 256, 5, 0),
         ("3x3 pad 1 @32", 64, 64, 32, 64, 3, 1), ("3x3 pad 1 @16", 64, 64, 16, 64, 3, 1),
         ("3x3 pad 1 @56", 32, 128, 56, 128, 3, 1), ("9x9 pad 4 @33", 64, 16, 33, 32, 9, 4),
         ("3x3 @12 tiny", 16, 8, 12, 8, 3, 0), ("3x3 @14", 64, 32, 14, 32, 3, 0),
         ("5x5 8 channels", 128, 8, 20, 8, 5, 0)]


def direct(x, w, g, pad):
    return torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], pad, [1, 1], False,
                                               [0, 0], 1, [True, True, False])[:2]


def caffe_order(x, w, g, pad):
    return blas_order.conv2d_grads(x, w, g, [1, 1], pad, [1, 1], 1)


def relative_error(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args(argv)
    retain_freed_memory()
    torch.manual_seed(0)
    shapes = CNND + (SWEEP if args.sweep else [])
    print(f"threads: {torch.get_num_threads()}, rounds: {args.rounds} (alternating, medians)")
    for name, batch, cin, size, cout, k, p in shapes:
        batch = batch or args.batch
        x = torch.randn(batch, cin, size, size).relu()
        w = torch.randn(cout, cin, k, k) * (2.0 / (cin * k * k)) ** 0.5
        out = size + 2 * p - k + 1
        g = torch.randn(batch, cout, out, out) * (torch.rand(batch, cout, out, out) > 0.5)
        pad = [p, p]
        runs = {"dft": lambda: dft_conv.conv2d_backward(x, w, g, pad),
                "direct": lambda: direct(x, w, g, pad)}
        if blas_order.available():
            runs["caffe"] = lambda: caffe_order(x, w, g, pad)
        times = {key: [] for key in runs}
        for fn in runs.values():
            fn()
        for _ in range(args.rounds):
            for key, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
        ref = direct(x.double(), w.double(), g.double(), pad)
        errors = {}
        for key, fn in runs.items():
            gx, gw = fn()
            errors[key] = (relative_error(gx, ref[0]), relative_error(gw, ref[1]))
        td, tt = statistics.median(times["dft"]), statistics.median(times["direct"])
        saving = dft_conv.estimated_saving(tuple(x.shape), tuple(w.shape), pad)
        chosen = "dft" if dft_conv.eligible(x, w, [1, 1], pad, [1, 1], 1) else "direct"
        print(f"{name:20s} N={batch} {cin}->{cout} {size}x{size} k{k} p{p}: "
              f"dft {td * 1e3:7.1f} ms, direct {tt * 1e3:7.1f} ms, ratio dft/direct "
              f"{td / tt:.3f}; estimate {saving:.2f}x -> {chosen}; error gx/gw dft "
              f"{errors['dft'][0]:.1e}/{errors['dft'][1]:.1e}, direct "
              f"{errors['direct'][0]:.1e}/{errors['direct'][1]:.1e}")
        if "caffe" in runs:
            tc = statistics.median(times["caffe"])
            print(f"{'':20s} Caffe's gemms {tc * 1e3:7.1f} ms, ratio caffe/direct {tc / tt:.3f}; "
                  f"error gx/gw {errors['caffe'][0]:.1e}/{errors['caffe'][1]:.1e}")


if __name__ == "__main__":
    main()
