"""CNN+D deploy forward: our Net against OpenCV's dnn on the same caffemodel, in one run.

    python benchmarks/bench_forward.py [--batches 1 32 128] [--seconds 4] [--weights W]

For each batch size, both engines run the same 96x96 float32 batch in turn (A, B, A, B, ...)
and the script prints frames/s of each and their ratio (ours / OpenCV), the largest output
difference (relative to the output scale), and our achieved GFLOP/s beside a float32 GEMM
(torch.matmul, 1024x1024) measured in the same run: 1.227 GFLOP per 96x96 frame, counting a
multiply-add as two operations, bounds the frame rate at GEMM speed / 1.227.
Without ``--weights`` the net gets Caffe's fillers (seed 0); the weights do not change speed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from caffe_compat import Net  # noqa: E402

DEPLOY = os.path.join(REPO, "prototxt", "cnnd_deploy.prototxt")


def cnnd_flops(h=96, w=96):
    """Multiply-adds x 2 of the CNN+D forward for one h x w frame (Caffe's shapes)."""
    total, c, size = 0, 1, (h, w)
    for n_out, pool in ((64, 2), (128, 2), (256, 4)):
        size = (size[0] - 4, size[1] - 4)
        total += 2 * n_out * c * 25 * size[0] * size[1]
        c = n_out
        size = tuple(-(-(s - pool) // pool) + 1 for s in size)
    k = c * size[0] * size[1]
    return total + 2 * k * 300 + 2 * 300


def gemm_gflops(seconds):
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * 1024 ** 3 / statistics.median(times) / 1e9


def paired(fa, fb, seconds, min_pairs=3):
    """Median time of ``fa`` and ``fb`` run alternately for about ``seconds``."""
    fa(), fb()
    ta, tb = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(ta) < min_pairs:
        for f, acc in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            f()
            acc.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb), [a / b for a, b in zip(tb, ta)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    p.add_argument("--seconds", type=float, default=4.0, help="timing budget per batch size")
    p.add_argument("--weights", help="a CNN+D caffemodel (default: fillers)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    import cv2
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        sys.exit(f"OpenCV {cv2.__version__} has no Caffe importer to compare with: run this in "
                 "an environment with opencv-python-headless<5 (caffe_compat.dnn against "
                 "OpenCV: benchmarks/bench_dnn.py)")

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    net = Net(DEPLOY, args.weights, phase="test", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        model, proto = os.path.join(tmp, "m.caffemodel"), os.path.join(tmp, "m.prototxt")
        net.save(model)
        net.save_prototxt(proto)
        cv = cv2.dnn.readNetFromCaffe(proto, model)
    flops = cnnd_flops()
    gemm = gemm_gflops(1.0)
    print(f"CNN+D deploy, 96x96, float32, {args.threads} threads; {flops / 1e9:.3f} GFLOP/frame; "
          f"torch {torch.__version__}, OpenCV {cv2.__version__}")
    print(f"float32 GEMM (1024^3) in this run: {gemm:.0f} GFLOP/s -> at most "
          f"{gemm * 1e9 / flops:.0f} frames/s at GEMM speed")
    print(f"{'batch':>5} {'ours f/s':>9} {'OpenCV f/s':>10} {'ratio':>6} {'(min-max)':>12} "
          f"{'our GFLOP/s':>11} {'max diff':>9}")
    rng = np.random.default_rng(0)
    for batch in args.batches:
        x = rng.random((batch, 1, 96, 96), dtype=np.float32)
        xt = torch.from_numpy(x)

        def ours():
            with torch.inference_mode():
                return net.forward(data=xt)["fc5"]

        def opencv():
            cv.setInput(x)
            return cv.forward()

        a, b = ours().numpy(), opencv()
        diff = float(np.abs(a - b.reshape(a.shape)).max() / max(1.0, np.abs(b).max()))
        t_ours, t_cv, ratios = paired(ours, opencv, args.seconds)
        print(f"{batch:5d} {batch / t_ours:9.1f} {batch / t_cv:10.1f} {t_cv / t_ours:6.2f} "
              f"{min(ratios):5.2f}-{max(ratios):<5.2f} {flops * batch / t_ours / 1e9:11.1f} "
              f"{diff:9.1e}")
    try:
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} (the machine is shared: compare ratios, not times)")
    except OSError:
        pass


if __name__ == "__main__":
    main()
