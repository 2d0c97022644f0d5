"""Time the bit-exact imresize on baboon against MATLAB R2017b's published times and cv2.resize.

    python benchmarks/bench_imresize.py [--repeats 30] [--threads N]

Input: baboon.png from ../shared/matlab-reference/imresize_R2017b read as double (480x492x3);
without the shared folder a random double image of the same size. Each resize is timed as the
median over the repeats, after one warm-up call. When MATLAB's outputs are available, the number
of pixels differing from them (after imwrite's rounding) is printed as well.
"""
import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from matlab_ports import im2double, imread, imresize, to_class  # noqa: E402
from matlab_ports.imresize import get_num_threads, set_num_threads  # noqa: E402

SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "matlab-reference" / "imresize_R2017b"
# MATLAB R2017b, imresize(img, f, 'bicubic') on baboon, Xeon E5-2650 v4 (published means, ms).
CASES = [("down x2", 1 / 2, "down_x2", 1.7), ("down x3", 1 / 3, "down_x3", 1.3),
         ("down x4", 1 / 4, "down_x4", 1.4), ("up x2", 2, "up_x2", 4.4), ("up x3", 3, "up_x3", 9.9)]


def median_ms(fn, repeats, clock=time.perf_counter):
    fn()
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="imresize worker threads")
    args = ap.parse_args()
    if args.threads:
        set_num_threads(args.threads)
    import cv2

    if (REFERENCE / "baboon.png").exists():
        img = im2double(imread(REFERENCE / "baboon.png"))
        source = "baboon.png"
    else:
        img = np.random.default_rng(0).random((480, 492, 3))
        source = "random 480x492x3 (shared folder absent)"
    print(f"input: {source}, double {img.shape}; imresize threads: {get_num_threads()}; "
          f"cv2 threads: {cv2.getNumThreads()}; load average: {os.getloadavg()[0]:.2f}")
    header = (f"{'case':8} {'ours ms':>8} {'cpu ms':>8} {'ours C':>8} {'MATLAB':>7} {'/MATLAB':>8} "
              f"{'cv2 cub':>8} {'/cv2cub':>8} {'cv2 area':>8} {'/cv2area':>8} {'diff px':>8}")
    print(header)
    print("-" * len(header))
    for name, scale, tag, matlab_ms in CASES:
        ours = median_ms(lambda: imresize(img, scale), args.repeats)
        cpu = median_ms(lambda: imresize(img, scale), args.repeats, time.thread_time) \
            if get_num_threads() == 1 else float("nan")
        ours_c = median_ms(lambda: imresize(img, scale, order="C"), args.repeats)
        h, w = imresize(img, scale).shape[:2]
        cub = median_ms(lambda: cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC),
                        args.repeats)
        area = median_ms(lambda: cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA),
                         args.repeats)
        diff = "-"
        ref_png = REFERENCE / f"baboon_{tag}_matlab.png"
        if source == "baboon.png" and ref_png.exists():
            out = to_class(np.clip(imresize(img, scale), 0, 1) * 255.0, "uint8")
            diff = str(int(np.count_nonzero(out != imread(ref_png))))
        print(f"{name:8} {ours:8.2f} {cpu:8.2f} {ours_c:8.2f} {matlab_ms:7.1f} "
              f"{ours / matlab_ms:8.2f} "
              f"{cub:8.2f} {ours / cub:8.2f} {area:8.2f} {ours / area:8.2f} {diff:>8}")
    print("ours: median wall time, default result layout; cpu: median CPU time of the calling "
          "thread (single-threaded runs only; less sensitive to other load on the machine); "
          "ours C: order='C' (C-contiguous result). Ratios use the wall time, ours / other.")


if __name__ == "__main__":
    main()
