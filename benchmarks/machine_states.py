"""How a machine's speed moves while a benchmark runs: one fixed piece of work (twenty
256 x 256 float32 products on one thread) timed over and over for ``--seconds``, its times
gathered in windows of ``--window`` seconds.

    python benchmarks/machine_states.py [--seconds 30] [--window 0.3]

Printed: percentiles of the single times, each window's median against the overall median
(lowest, 10th, 50th, 90th percentile, highest), and the windows in order, ``S`` for one
slower than the overall median and ``f`` for one faster. Runs of ``S`` and ``f`` several
windows long are states of the machine (another tenant on the same cores) that outlast a
benchmark's block: runners timed in blocks then meet different shares of them, and only
ratios of blocks of the same round compare like with like
(``bench_torch_free_choice.py``'s ``paired`` figures)."""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread count is set)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--window", type=float, default=0.3)
    args = p.parse_args(argv)
    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)
    times, end = [], time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(20):
            a @ a
        times.append(time.perf_counter() - t0)
    times = np.array(times)
    middle = np.median(times)
    windows, now, spent = [], [], 0.0
    for t in times:
        now.append(t)
        spent += t
        if spent >= args.window:
            windows.append(np.median(now) / middle)
            now, spent = [], 0.0
    windows = np.array(windows)
    print(f"{len(times)} times, ms at percentiles 1/10/25/50/75/90/99:",
          np.percentile(times * 1e3, [1, 10, 25, 50, 75, 90, 99]).round(3))
    print(f"{len(windows)} windows of {args.window} s, median / overall median at "
          "0/10/50/90/100 %:", np.percentile(windows, [0, 10, 50, 90, 100]).round(3))
    print("".join("S" if w > 1.0 else "f" for w in windows))


if __name__ == "__main__":
    main()
