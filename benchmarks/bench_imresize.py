"""Time the bit-exact imresize on baboon against MATLAB R2017b's published times and cv2.resize.

    python benchmarks/bench_imresize.py [--repeats 40] [--threads N]

Input: baboon.png from ../shared/matlab-reference/imresize_R2017b read as double (480x492x3);
without the shared folder a random double image of the same size. For each resize the compiled
kernel path, the numpy path (the kernel switched off), cv2.resize (INTER_CUBIC and INTER_AREA)
and a plain allocate-and-fill of an array the size of the result are timed in turns, round
after round (each call timed right after an untimed one, so with warm caches as in a loop of
calls), so that load from other processes hits them alike; the table gives medians. The fill
column is what allocating and writing an array the size of the result costs on its own on this
machine at this moment (for results over 32 MB that is fresh memory, which the system clears
first; the kernel path reuses the memory of dropped results instead). When MATLAB's outputs are
available, the number of pixels differing from them (after imwrite's rounding) is printed, and
the two paths are checked to give the same bits.
"""
import argparse
import importlib
import os
import pathlib
import statistics
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from matlab_ports import im2double, imread, imresize, to_class  # noqa: E402

imr = importlib.import_module("matlab_ports.imresize")

SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "matlab-reference" / "imresize_R2017b"
# MATLAB R2017b, imresize(img, f, 'bicubic') on baboon, Xeon E5-2650 v4 (published means, ms).
CASES = [("down x2", 1 / 2, "down_x2", 1.7), ("down x3", 1 / 3, "down_x3", 1.3),
         ("down x4", 1 / 4, "down_x4", 1.4), ("up x2", 2, "up_x2", 4.4), ("up x3", 3, "up_x3", 9.9)]
TARGET = 2.0  # acceptance: median at most TARGET x MATLAB's published time


def kernel_path(img, scale):
    imr.set_use_kernel(True)
    return imresize(img, scale)


def kernel_one_thread(img, scale):
    threads = imr.get_num_threads()
    imr.set_num_threads(1)
    try:
        return kernel_path(img, scale)
    finally:
        imr.set_num_threads(threads)


def numpy_path(img, scale):
    previous = imr.set_use_kernel(False)
    try:
        return imresize(img, scale)
    finally:
        imr.set_use_kernel(previous)


def interleaved_medians(fns, repeats):
    """Median ms of each function over ``repeats`` rounds; in each round every function is
    called twice in a row and the second call timed (caches warm, as in a loop of calls),
    then the next function's turn comes."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            clock = time.thread_time if name.endswith("cpu") else time.perf_counter
            fn()
            t = clock()
            fn()
            times[name].append(clock() - t)
    return {name: 1e3 * statistics.median(v) for name, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None, help="imresize worker threads")
    args = ap.parse_args()
    if args.threads:
        imr.set_num_threads(args.threads)
    import cv2

    if (REFERENCE / "baboon.png").exists():
        img = im2double(imread(REFERENCE / "baboon.png"))
        source = "baboon.png"
    else:
        img = np.random.default_rng(0).random((480, 492, 3))
        source = "random 480x492x3 (shared folder absent)"
    kernel = imr._resize_kernel
    simd = kernel.simd_level() if kernel is not None else "-"
    print(f"input: {source}, double {img.shape}; compiled kernel: "
          f"{'yes, ' + simd if kernel is not None else 'not built (numpy path only)'}; "
          f"imresize threads: {imr.get_num_threads()}; cv2 threads: {cv2.getNumThreads()}; "
          f"cpus: {os.cpu_count()}; load average: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    header = (f"{'case':8} {'kernel':>7} {'k cpu':>6} {'numpy':>7} {'MATLAB':>7} {'k/MATLAB':>8} "
              f"{'target':>6} {'n/MATLAB':>8} {'n/k':>5} {'cv2 cub':>7} {'k/cub':>5} "
              f"{'cv2 area':>8} {'k/area':>6} {'fill':>6} {'diff px':>7} {'bits':>5}")
    print(header)
    print("-" * len(header))
    for name, scale, tag, matlab_ms in CASES:
        out = kernel_path(img, scale)
        h, w = out.shape[:2]
        size = out.size
        fns = {
            "kernel": lambda: kernel_path(img, scale),
            "kernel cpu": lambda: kernel_one_thread(img, scale),
            "numpy": lambda: numpy_path(img, scale),
            "cub": lambda: cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC),
            "area": lambda: cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA),
            "fill": lambda: np.empty(size).fill(0.5),
        }
        if kernel is None:
            del fns["kernel"], fns["kernel cpu"]
        t = interleaved_medians(fns, args.repeats)
        k = t.get("kernel", t["numpy"])
        expected = numpy_path(img, scale)
        bits = "same" if (out.strides == expected.strides
                          and np.array_equal(out.view(np.uint64), expected.view(np.uint64))) \
            else "DIFF"
        diff = "-"
        ref_png = REFERENCE / f"baboon_{tag}_matlab.png"
        if source == "baboon.png" and ref_png.exists():
            got = to_class(np.clip(out, 0, 1) * 255.0, "uint8")
            diff = str(int(np.count_nonzero(got != imread(ref_png))))
        met = "met" if k <= TARGET * matlab_ms else "NOT"
        kcpu = f"{t['kernel cpu']:6.2f}" if "kernel cpu" in t else f"{'-':>6}"
        print(f"{name:8} {k:7.2f} {kcpu} {t['numpy']:7.2f} {matlab_ms:7.1f} {k / matlab_ms:8.2f} "
              f"{met:>6} {t['numpy'] / matlab_ms:8.2f} {t['numpy'] / k:5.1f} {t['cub']:7.2f} "
              f"{k / t['cub']:5.2f} {t['area']:8.2f} {k / t['area']:6.2f} {t['fill']:6.2f} "
              f"{diff:>7} {bits:>5}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("ms are medians of wall time. kernel: compiled path (the default); k cpu: its CPU time "
          "on one thread (the calling thread's, so time spent waiting for a processor on a "
          "busy machine is left out); numpy: the same "
          "resize with the kernel switched off; k/MATLAB, n/MATLAB: ratios to MATLAB's "
          f"published time (target: at most {TARGET:g}); n/k: speed-up of the kernel; k/cub, "
          "k/area: ratio to cv2.resize INTER_CUBIC / INTER_AREA (not MATLAB-exact); fill: "
          "np.empty + fill of an array the size of the result; bits: kernel and numpy path "
          "results identical (bytes and strides).")


if __name__ == "__main__":
    main()
