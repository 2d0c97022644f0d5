"""caffe_compat.dnn's default forward against OpenCV 4's cv2.dnn and against each engine's own
session on our ONNX export, on public deploy nets, in one run.

    python benchmarks/bench_dnn.py [--nets resnet50 googlenet ...] [--batches 1 8]
                                   [--threads 1 2] [--seconds 3] [--mixed] [--ort-spinning 0|1]

Each net (random weights, the same caffemodel for all; weights do not change speed) is read
by ``caffe_compat.dnn.readNetFromCaffe`` (default backend: the fastest engine that gives our
forward's outputs, :mod:`caffe_compat.inference.engines`) and by OpenCV's own
``cv2.dnn.readNetFromCaffe``; the same net exported to ONNX (``caffe_compat.export``) is also
run by onnxruntime and OpenVINO sessions created directly with their libraries (best settings,
:func:`benchmarks.zoo_timing.raw_sessions`). All run the same blob in alternating blocks of
calls (:mod:`benchmarks.zoo_timing` says why), for each thread count given. Printed per
thread count, net and batch: frames/s of OpenCV and ours, the engine ours chose, the ratio
OpenCV / ours (above 1: we are faster; goals: 1.5 in the median, 1.2 in every case), each raw
session's ratio, ours / the fastest raw session's time (goal: at most 1.05), and the largest
output difference relative to the output's scale (detections compared as sets of rows).
``--mixed`` times each forward together with cv2 preprocessing (resize and blobFromImage of a
640 x 480 frame), as applications loop. Needs OpenCV 4.x (OpenCV 5 has no Caffe importer).
Our first forward of each net, batch and thread count exports, checks and calibrates (cached
under a temporary ``CAFFE_COMPAT_ENGINE_CACHE`` unless one is set); it is not timed.
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
# the steady state of the engine auto chooses, decided at the first (untimed) forward rather
# than after the torch forwards of the runtime trial (caffe_compat.inference.engines.choose)
os.environ.setdefault("CAFFE_COMPAT_ENGINE_DEFER", "0")

from caffe_compat import CaffeCompatError, dnn  # noqa: E402
from tests.caffe_compat.dnn import nets, zoo_nets  # noqa: E402

from benchmarks.zoo_timing import raw_sessions, relative_diff, rounds  # noqa: E402


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


def _preprocess(size, channels, batch):
    """A callable doing an application's per-frame preprocessing with cv2: a 640 x 480 BGR
    frame resized to the net's input and made a blob (``batch`` frames)."""
    import cv2
    frame = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)

    def run():
        images = [cv2.resize(frame, size[::-1]) for _ in range(batch)]
        if channels == 1:
            images = [cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in images]
        return cv2.dnn.blobFromImages(images, 1.0, size[::-1], (104.0, 117.0, 123.0)[:channels])
    return run


def _chosen_engine(net):
    """The runtime answering ``net``'s forwards: its torch-free plan's, its engine runner's,
    else torch."""
    plans = net._torch_free.plans() if net._torch_free is not None else []
    if plans and hasattr(plans[-1][2], "runtime"):
        return plans[-1][2].runtime
    if net._runners:
        return net._runners[next(reversed(net._runners))].last_engine
    return "torch"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seconds", type=float, default=3.0, help="timing budget per net and batch")
    p.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()])
    p.add_argument("--mixed", action="store_true",
                   help="time each forward with cv2 preprocessing of a frame before it")
    p.add_argument("--ort-spinning", type=int, choices=(0, 1), default=None,
                   help="session.intra_op.allow_spinning of the raw onnxruntime session "
                        "(default: as caffe_compat's engine, $CAFFE_COMPAT_ORT_SPINNING or 1: "
                        "caffe_compat.onnx_path.runtime.tuned_session)")
    args = p.parse_args(argv)
    import tempfile

    import cv2
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        sys.exit(f"OpenCV {cv2.__version__} has no Caffe importer to compare with: run this in "
                 "an environment with opencv-python-headless<5")
    if not os.environ.get("CAFFE_COMPAT_ENGINE_CACHE"):
        os.environ["CAFFE_COMPAT_ENGINE_CACHE"] = tempfile.mkdtemp(prefix="bench-engines-")
    from caffe_compat import Net
    from caffe_compat.export import export_onnx
    from caffe_compat.proto import caffe_pb2
    spin = bool(int(os.environ.get("CAFFE_COMPAT_ORT_SPINNING", "1"))) \
        if args.ort_spinning is None else bool(args.ort_spinning)
    print(f"caffe_compat.dnn (default backend) vs OpenCV {cv2.__version__} dnn and the engines' "
          f"own sessions on our export; torch {torch.__version__}; ratio = OpenCV time / ours "
          f"(> 1: faster than OpenCV); ours/raw = our time / the fastest raw session's"
          + ("; each call after cv2 preprocessing of a frame" if args.mixed else "")
          + f"; raw onnxruntime spinning {int(spin)}")
    summary, overhead = [], []
    rng = np.random.default_rng(0)
    files = {}
    work = tempfile.mkdtemp(prefix="bench-dnn-")
    for threads in args.threads:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        print(f"\n{threads} thread(s)")
        print(f"{'net':>12} {'batch':>5} {'OpenCV f/s':>10} {'ours f/s':>9} {'engine':>11} "
              f"{'ratio':>6} {'(min-max)':>11} {'ort':>5} {'ov':>5} {'ours/raw':>8} "
              f"{'max diff':>8}")
        for name in args.nets:
            if name not in files:
                files[name] = net_files(name)
            text, model = files[name]
            try:
                ours = dnn.readNetFromCaffe(text.encode(), model)
            except CaffeCompatError as e:
                print(f"{name:>12}: left out, the engine cannot build it yet ({str(e)[:100]})")
                continue
            theirs = cv2.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                              np.frombuffer(model, np.uint8))
            path = os.path.join(work, f"{name}.onnx")
            if not os.path.exists(path):
                onnx_net = Net(text, phase="test")
                onnx_net.copy_from(caffe_pb2.NetParameter.FromString(model))
                export_onnx(onnx_net, path)
            size, channels = NETS[name][1], NETS[name][2]
            detections = "DetectionOutput" in text
            for batch in args.batches:
                x = rng.uniform(-100, 100, (batch, channels) + size).astype(np.float32)
                raw = raw_sessions(path, threads, x.shape, ort_spinning=spin)

                def run_ours():
                    ours.setInput(x)
                    return ours.forward()

                def run_opencv():
                    theirs.setInput(x)
                    return theirs.forward()

                runs = {"opencv": run_opencv, "ours": run_ours}
                runs.update({k: (lambda f=f: f(x)) for k, f in raw.items()})
                b = run_opencv()
                a = run_ours()            # first use: export, check, calibration (not timed)
                chosen = _chosen_engine(ours)
                diff = max([relative_diff(a, b, detections)]
                           + [relative_diff(f(), b, detections) for k, f in runs.items()
                              if k not in ("opencv", "ours")])
                if args.mixed:
                    prep = _preprocess(size, channels, batch)
                    runs = {k: (lambda f=f: (prep(), f())) for k, f in runs.items()}
                med, times = rounds(runs, args.seconds)
                t_ours, t_cv = med["ours"], med["opencv"]
                ratios = [tb / ta for ta, tb in zip(times["ours"], times["opencv"])]
                raw_t = {k: med[k] for k in raw}
                fastest = min(raw_t.values()) if raw_t else float("nan")
                summary.append(t_cv / t_ours)
                overhead.append(t_ours / fastest)
                cells = " ".join(f"{t_cv / raw_t[k]:5.2f}" if k in raw_t else f"{'-':>5}"
                                 for k in ("onnxruntime", "openvino"))
                print(f"{name:>12} {batch:5d} {batch / t_cv:10.1f} {batch / t_ours:9.1f} "
                      f"{chosen:>11} {t_cv / t_ours:6.2f} {min(ratios):5.2f}-"
                      f"{max(ratios):<5.2f} {cells} {t_ours / fastest:8.3f} {diff:8.1e}",
                      flush=True)
    if summary:
        print(f"\nOpenCV / ours: smallest ratio {min(summary):.2f}, median "
              f"{statistics.median(summary):.2f} over {len(summary)} cases (goals: 1.2 and 1.5); "
              f"ours / fastest raw session: largest {max(overhead):.3f} (goal: at most 1.05)")
    try:
        print(f"load average {os.getloadavg()[0]:.2f} (a shared machine: compare ratios, not "
              "times)")
    except OSError:
        pass


if __name__ == "__main__":
    main()
