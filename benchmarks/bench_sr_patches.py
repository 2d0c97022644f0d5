"""SR pre-training patch generation time (generate_train.m / generate_test.m ports).

    python benchmarks/bench_sr_patches.py [--repeats 3] [--folder DIR]

Times :func:`matlab_ports.generate_train.generate_train` on the 91 training images
(``../shared/sr-images/Train``; without the shared folder, 91 random RGB images of the same
sizes range written to a temporary folder) with the script's settings (scale 12, stride 14,
32/16, chunks of 128) and SRCNN's (scale 3, 33/21), and generate_test on Set5; split into
reading + degrading the images and writing the shuffled patches. Target: under 10 s for the
91 images. Median wall time of ``--repeats`` runs; the machine may be shared (load average
printed).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
SHARED = os.environ.get("RLQ_SHARED", os.path.join(os.path.dirname(REPO), "shared"))


def _synthetic(folder, count=91):
    from matlab_ports import imwrite
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for k in range(count):
        h, w = rng.integers(100, 300, 2)
        imwrite(rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                os.path.join(folder, f"t{k}.bmp"))
    return folder


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--folder", default=None, help="training images (default: shared Train)")
    args = ap.parse_args(argv)

    from matlab_ports import sr_patches

    with tempfile.TemporaryDirectory(prefix="bench_sr_") as tmp:
        train = args.folder or os.path.join(SHARED, "sr-images", "Train")
        set5 = os.path.join(SHARED, "sr-images", "Set5")
        if not os.path.isdir(train):
            train = _synthetic(os.path.join(tmp, "Train"))
            print("shared images absent: 91 random images")
        print(f"images: {train}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
              "CPUs")
        cases = [("generate_train x12 (script)", train, 12, 14, 32, 16, 128),
                 ("generate_train x3 (SRCNN)", train, 3, 14, 33, 21, 128)]
        if os.path.isdir(set5):
            cases.append(("generate_test Set5 (script)", set5, 12, 20, 32, 16, 2))
        print(f"{'case':30} {'images':>6} {'patches':>8} {'stored':>7} {'total s':>8} "
              f"{'read s':>7} {'write s':>8}")
        for name, folder, scale, stride, si, sl, chunk in cases:
            out = os.path.join(tmp, "out.h5")
            totals, reads, writes = [], [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                plan = sr_patches.plan_patches(folder, scale, stride, si, sl)
                t1 = time.perf_counter()
                stored = sr_patches.write_patches(plan, out, chunk)
                t2 = time.perf_counter()
                reads.append(t1 - t0)
                writes.append(t2 - t1)
                totals.append(t2 - t0)
                os.remove(out)
            print(f"{name:30} {len(plan.images):6d} {plan.count:8d} {stored:7d} "
                  f"{statistics.median(totals):8.2f} {statistics.median(reads):7.2f} "
                  f"{statistics.median(writes):8.2f}")
        print("read: imread + Y + modcrop + bicubic round trip of every image; write: randperm, "
              "patch copies and HDF5 writes (fsync included). Wall time; shared machine, noisy.")


if __name__ == "__main__":
    main()
