"""The pycaffe programs of tests/pycaffe/public_programs run in GPU mode, compared with the same
programs in CPU mode: each program runs twice in this process, once as written (it calls
``caffe.set_mode_cpu()``) and once with that call giving GPU mode (``caffe.set_mode_gpu()``
on device 0), and every value the tests compare with real Caffe's is compared between the two.

    python benchmarks/gpu_programs.py [--all] [--programs NAME ...]

On a machine without a GPU, ``CAFFE_COMPAT_DEVICE_STANDIN=1`` runs GPU mode's memory rule on
the CPU (the device copies are second CPU tensors): the values must then be equal.

Tolerance on a GPU: float32 sums in cuDNN's and cuBLAS's orders (TF32 off) instead of oneDNN's;
training programs compound them over their iterations, so a value is held to ``--rtol`` of the
largest magnitude of its reference (default 1e-3) and text lines to the same on each number.
The exit status is 1 when a value is outside it, with the program and the value named.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "pycaffe", "public_programs"))

NUMBER = re.compile(r"-?\d+\.?\d*(?:[eE][-+]?\d+)?")


@contextlib.contextmanager
def gpu_mode():
    """``caffe.set_mode_cpu()`` gives GPU mode while the program runs."""
    import caffe
    original = caffe.set_mode_cpu
    caffe.set_mode_cpu = caffe.set_mode_gpu
    caffe.set_device(0)
    caffe.set_mode_gpu()
    try:
        yield
    finally:
        caffe.set_mode_cpu = original
        original()


def _shared(relative):
    from tests import conftest
    path = conftest.SHARED / relative
    if not path.exists():
        raise FileNotFoundError(f"{path}: a public input of the programs (set RLQ_SHARED)")
    return path


def compare(name, cpu, gpu, rtol):
    """``[(key, worst relative difference, passed)]`` of one program's values."""
    out = []
    for key in sorted(cpu):
        a, b = cpu[key], gpu[key]
        if isinstance(a, str) or np.asarray(a).dtype.kind == "U":
            la, lb = str(a).splitlines(), str(b).splitlines()
            worst, ok = 0.0, len(la) == len(lb)
            for x, y in zip(la, lb):
                na, nb = NUMBER.findall(x), NUMBER.findall(y)
                if NUMBER.sub("#", x) != NUMBER.sub("#", y) or len(na) != len(nb):
                    ok = False
                    continue
                for u, v in zip(na, nb):
                    u, v = float(u), float(v)
                    d = abs(u - v) / max(abs(u), 1e-6)
                    worst = max(worst, d)
                    ok = ok and (d <= rtol or abs(u - v) <= 1e-6)
            out.append((key, worst, ok))
            continue
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            out.append((key, float("inf"), False))
            continue
        scale = max(float(np.abs(a).max()) if a.size else 0.0, 1e-12)
        worst = float(np.abs(a - b).max()) / scale if a.size else 0.0
        out.append((key, worst, worst <= rtol))
    return out


def main():
    import programs
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="the long programs too")
    parser.add_argument("--programs", nargs="*", help="only these")
    parser.add_argument("--rtol", type=float, default=1e-3)
    args = parser.parse_args()
    names = args.programs or sorted(set(programs.PROGRAMS) - (set() if args.all
                                                               else programs.SLOW))
    names = [n for n in names if n not in programs.NEEDS_GRAPHVIZ or shutil.which("dot")]
    import torch
    if torch.cuda.is_available():
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    failed = []
    for name in names:
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as cpu_dir, tempfile.TemporaryDirectory() as gpu_dir:
            cpu = programs.run(name, cpu_dir, _shared)
            with gpu_mode():
                gpu = programs.run(name, gpu_dir, _shared)
        for key, worst, ok in compare(name, cpu, gpu, args.rtol):
            print(f"{name:24s} {key:24s} worst relative difference {worst:.3g} "
                  f"{'ok' if ok else 'OUTSIDE ' + str(args.rtol)}")
            if not ok:
                failed.append(f"{name}: {key}")
        print(f"{name}: {time.perf_counter() - t:.1f} s", flush=True)
    if failed:
        print("outside the tolerance: " + ", ".join(failed))
        return 1
    print("GPU mode gives CPU mode's values on every program")
    return 0


if __name__ == "__main__":
    sys.exit(main())
