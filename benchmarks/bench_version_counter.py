"""What reading torch's version counter (``Tensor._version``) saves: the caches of weights
derived for inference (folded, reordered, exported) must notice an in-place write of a weight
(pycaffe's ``net.params[...][...] =``, a solver step). Without a public reader of the counter,
the only public way is to hash every weight before each forward. Timed against the forward it
would guard, in alternating blocks, at the thread count of ``CAFFE_COMPAT_THREADS`` / torch's.

    python benchmarks/bench_version_counter.py [--nets resnet50 squeezenet11] [--rounds 5]

Printed per net: the forward's median time, the sha256 of its weights, and (forward + hash) /
forward, the time a forward would take; the version counters' sum for comparison.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))


def _timed(fn, seconds=0.5):
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or n < 3:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def main(argv=None):
    import numpy as np
    import torch

    import caffe_compat
    from bench_dnn import NETS, net_files
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=["resnet50", "squeezenet11"], choices=list(NETS))
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-version-")
    for name in args.nets:
        text, model = net_files(name)
        proto, weights = os.path.join(work, name + ".prototxt"), os.path.join(work, name)
        with open(proto, "w") as f:
            f.write(text)
        with open(weights, "wb") as f:
            f.write(model)
        net = caffe_compat.Net(proto, weights, phase="TEST", engine="torch")
        shape = [1, NETS[name][2], *NETS[name][1]]
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        blobs = list(net.caffe_state_dict().values())

        def forward():
            with torch.inference_mode():
                net.forward(keep_blobs=False, **{net.inputs[0]: x})

        def hashed():
            h = hashlib.sha256()
            for t in blobs:
                h.update(t.detach().numpy().data)

        def version():
            return sum(t._version for t in blobs)
        runs = {"forward": forward, "hash": hashed, "version": version}
        for fn in runs.values():
            fn()
        times = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                times[k].append(_timed(fn))
        med = {k: statistics.median(v) for k, v in times.items()}
        mb = sum(t.numel() * t.element_size() for t in blobs) / 1e6
        print(f"{name} ({mb:.0f} MB of weights, {torch.get_num_threads()} threads): forward "
              f"{med['forward'] * 1e3:.2f} ms, sha256 of the weights {med['hash'] * 1e3:.2f} ms "
              f"({(med['forward'] + med['hash']) / med['forward']:.2f}x the forward), "
              f"the version counters' sum {med['version'] * 1e6:.1f} us")


if __name__ == "__main__":
    main()
