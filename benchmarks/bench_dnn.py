"""caffe_compat.dnn's forward against OpenCV 4's cv2.dnn on public deploy nets, in one run.

    python benchmarks/bench_dnn.py [--nets resnet50 googlenet ...] [--batches 1 8] [--seconds 4]

Each net (random weights, the same caffemodel for both; weights do not change speed) is read
by ``caffe_compat.dnn.readNetFromCaffe`` and by OpenCV's own ``cv2.dnn.readNetFromCaffe``,
both fed the same blob through ``setInput`` and run with ``forward()`` in alternating blocks
of calls, each with its library's default thread waiting (:mod:`benchmarks.zoo_timing` says
why). Printed per net and batch: frames/s of each, the ratio (OpenCV's time / ours: above 1
means we are faster), its range over the calls, and the largest output difference relative
to the output's scale (detections compared in image, label and box order). Needs OpenCV 4.x (OpenCV 5 has no Caffe importer to compare with).
Nets whose layer types this engine lacks are reported and left out. Ours runs the inference
fast path (``caffe_compat.fast_inference``: BatchNorm/Scale folded, oneDNN post-ops); the
public-zoo goal is a ratio of 1.5 or more at batch 1 and 8.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from caffe_compat import CaffeCompatError, dnn  # noqa: E402
from tests.caffe_compat.dnn import nets, zoo_nets  # noqa: E402

from benchmarks.zoo_timing import relative_diff, rounds  # noqa: E402


def cnnd():
    with open(os.path.join(REPO, "prototxt", "cnnd_deploy.prototxt")) as f:
        text = f.read()
    from caffe_compat import Net
    net = Net(text, phase="test", seed=0)
    return net.inference_proto(), net


NETS = {
    "resnet50": (lambda: zoo_nets.resnet50(), (224, 224), 3),
    "googlenet": (lambda: nets.googlenet(), (224, 224), 3),
    "squeezenet11": (lambda: zoo_nets.squeezenet11(), (227, 227), 3),
    "mobilenet_v2": (lambda: zoo_nets.mobilenet_v2(), (224, 224), 3),
    "res10_ssd": (lambda: nets.res10_ssd(), (300, 300), 3),
    "cnnd": (None, (96, 96), 1),
}


def net_files(name):
    if name == "cnnd":
        from caffe_compat.io.caffemodel import caffemodel_bytes
        from caffe_compat.io.prototxt import to_text
        proto, net = cnnd()
        return to_text(proto), caffemodel_bytes(net.to_proto())
    text, blobs = NETS[name][0]()
    return text, nets.caffemodel_bytes(text, blobs, seed=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seconds", type=float, default=4.0, help="timing budget per net and batch")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    import cv2
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        sys.exit(f"OpenCV {cv2.__version__} has no Caffe importer to compare with: run this in "
                 "an environment with opencv-python-headless<5")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(f"caffe_compat.dnn vs OpenCV {cv2.__version__} dnn, {args.threads} threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}), torch "
          f"{torch.__version__}; ratio = OpenCV time / ours (> 1: faster than OpenCV)")
    summary = []
    print(f"{'net':>12} {'batch':>5} {'ours f/s':>9} {'OpenCV f/s':>10} {'ratio':>6} "
          f"{'(min-max)':>12} {'max diff':>9}")
    rng = np.random.default_rng(0)
    for name in args.nets:
        text, model = net_files(name)
        try:
            ours = dnn.readNetFromCaffe(text.encode(), model)
        except CaffeCompatError as e:
            print(f"{name:>10}: left out, the engine cannot build it yet ({str(e)[:100]})")
            continue
        theirs = cv2.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                          np.frombuffer(model, np.uint8))
        size, channels = NETS[name][1], NETS[name][2]
        for batch in args.batches:
            x = rng.uniform(-100, 100, (batch, channels) + size).astype(np.float32)

            def run_ours():
                ours.setInput(x)
                return ours.forward()

            def run_opencv():
                theirs.setInput(x)
                return theirs.forward()

            a, b = run_ours(), run_opencv()
            diff = relative_diff(a, b, detections="DetectionOutput" in text)
            med, times = rounds({"ours": run_ours, "opencv": run_opencv}, args.seconds)
            t_ours, t_cv = med["ours"], med["opencv"]
            ratios = [tb / ta for ta, tb in zip(times["ours"], times["opencv"])]
            summary.append(t_cv / t_ours)
            print(f"{name:>12} {batch:5d} {batch / t_ours:9.1f} {batch / t_cv:10.1f} "
                  f"{t_cv / t_ours:6.2f} {min(ratios):5.2f}-{max(ratios):<5.2f} {diff:9.1e}")
    if summary:
        print(f"smallest ratio {min(summary):.2f}, median {statistics.median(summary):.2f} "
              "(goal: 1.5 or more)")
    try:
        print(f"load average {os.getloadavg()[0]:.2f} (a shared machine: compare ratios, not "
              "times)")
    except OSError:
        pass


if __name__ == "__main__":
    main()
