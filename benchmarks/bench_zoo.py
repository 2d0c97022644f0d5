"""CPU inference on the public zoo: ``caffe_compat.Net.forward`` against OpenCV 4's cv2.dnn,
in one run.

    python benchmarks/bench_zoo.py [--nets resnet50 googlenet ...] [--batches 1 8]
                                   [--seconds 3] [--steps] [--threads N ...] [--engines]

Nets (random weights, the same caffemodel bytes for both engines; weights do not change the
speed): ResNet-50, GoogLeNet, SqueezeNet 1.1, MobileNet v2 (224 x 224, 227 for SqueezeNet) and
OpenCV's res10 SSD face detector (300 x 300), written out by ``tests/caffe_compat/dnn``. Ours
is ``Net.forward(data=x)`` under ``torch.inference_mode()`` (the inference fast path,
:mod:`caffe_compat.inference.fast_inference`); OpenCV's is ``setInput(x); forward()``. The engines run in
alternating blocks of calls, each with its library's default thread waiting
(:mod:`benchmarks.zoo_timing` says why); printed per net and batch: frames/s of each, the
ratio (OpenCV's time / ours: above 1 means we are faster, the goal is 1.5), its range over the
calls, and the largest difference of the outputs relative to the output's scale (detections
compared in image, label and box order: ties in confidence may come in either order).

``--steps`` also times the steps of the fast path in the same rounds, so that each one's gain
shows: ``layer by layer`` (the fast path off: every layer on its own, convolutions in oneDNN's
channels-last layout with their weights reordered once, as before the fast path), ``+fold``
(BatchNorm / Scale folded into the convolutions, NCHW layout), ``+channels-last`` (the folded
convolutions in channels-last), ``+relu`` (the ReLU after a convolution applied in place on
its output), ``+layout`` (pooling, LRN and concat in channels-last), ``+compiled run`` (the
plan run as precompiled steps), ``+packed weights`` (convolution weights reordered once for
oneDNN), ``+affine`` (BatchNorm / Scale / ReLU after no convolution as one ``x * a + b``: the
whole fast path).
``--public-row`` also times, in the same blocks, the plan with the CPU row on public calls
only (``F.conv2d`` with the ReLU and the Eltwise SUM in place after it, weights not packed:
what a torch without oneDNN's fused operators runs) and prints its time over ours.
``--conv-bound`` also times, in the same blocks, the forward's convolutions alone (every
oneDNN call of the fast path replayed on the input it had): OpenCV's time over that is the
ratio a forward would reach if every other layer and all overhead cost nothing.
``--engines`` also times, in the same blocks, each engine's own session on our ONNX export
(onnxruntime, OpenVINO, best settings: :func:`benchmarks.zoo_timing.raw_sessions`) and
``Net(..., engine="auto")``'s output-only forward (:mod:`caffe_compat.inference.engines`: the fastest
engine that gives our outputs), with OpenCV's time over each and ours-auto / the fastest raw
session's time (goal: at most 1.05). ``--threads`` takes several counts (one table each).
Needs OpenCV 4.x (OpenCV 5 has no Caffe importer to compare with).
"""
from __future__ import annotations

import argparse
import contextlib
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

from caffe_compat import Net  # noqa: E402
from caffe_compat.inference import fast_inference  # noqa: E402
from caffe_compat.proto import caffe_pb2  # noqa: E402
from tests.caffe_compat.dnn import nets, zoo_nets  # noqa: E402

from benchmarks.zoo_timing import raw_sessions, relative_diff, rounds  # noqa: E402

NETS = {   # name: (builder, input size)
    "resnet50": (zoo_nets.resnet50, 224),
    "googlenet": (nets.googlenet, 224),
    "squeezenet11": (zoo_nets.squeezenet11, 227),
    "mobilenet_v2": (zoo_nets.mobilenet_v2, 224),
    "res10_ssd": (nets.res10_ssd, 300),
}

# (label, {flag of caffe_compat.inference.fast_inference: value}); each step adds one to the one before
STEPS = (("layer by layer", dict(ENABLED=False)),
         ("+fold", dict(CHANNELS_LAST=False, FUSE_RELU=False, LAYOUT_LAYERS=False,
                        COMPILED_RUN=False, PACKED_WEIGHTS=False, AFFINE=False)),
         ("+channels-last", dict(FUSE_RELU=False, LAYOUT_LAYERS=False, COMPILED_RUN=False,
                                 PACKED_WEIGHTS=False, AFFINE=False)),
         ("+relu", dict(LAYOUT_LAYERS=False, COMPILED_RUN=False, PACKED_WEIGHTS=False,
                        AFFINE=False)),
         ("+layout", dict(COMPILED_RUN=False, PACKED_WEIGHTS=False, AFFINE=False)),
         ("+compiled run", dict(PACKED_WEIGHTS=False, AFFINE=False)),
         ("+packed weights", dict(AFFINE=False)),
         ("+affine", dict()))
FLAGS = ("ENABLED", "FOLD", "CHANNELS_LAST", "FUSE_RELU", "LAYOUT_LAYERS", "COMPILED_RUN",
         "PACKED_WEIGHTS", "AFFINE")


@contextlib.contextmanager
def public_row():
    """The inference plan's CPU row without oneDNN's fused operators (torch's private ones)."""
    saved = fast_inference.ROWS["cpu"], fast_inference.ONEDNN_POST_OPS
    fast_inference.ROWS["cpu"] = saved[0]._replace(onednn=False)
    fast_inference.ONEDNN_POST_OPS = False
    try:
        yield
    finally:
        fast_inference.ROWS["cpu"], fast_inference.ONEDNN_POST_OPS = saved


@contextlib.contextmanager
def step_flags(net, flags):
    saved = {k: getattr(fast_inference, k) for k in FLAGS}
    for k in FLAGS:
        setattr(fast_inference, k, flags.get(k, True))
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(fast_inference, k, v)


def build(name):
    builder, size = NETS[name]
    text, blobs = builder()
    model = nets.caffemodel_bytes(text, blobs, seed=0)
    return text, model, size


def convolutions_alone(net, forward):
    """A callable that runs only the convolutions of one ``forward`` (the fast path's oneDNN
    calls, each with the post-ops it has in the forward) on the inputs they had there: a lower
    bound on any forward that computes the same convolutions with the same kernels."""
    calls = []
    real = fast_inference.FoldedConv.__call__

    def record(self, *args):
        calls.append((self, args))
        return real(self, *args)
    fast_inference.FoldedConv.__call__ = record
    try:
        forward()
    finally:
        fast_inference.FoldedConv.__call__ = real

    def run():
        with torch.inference_mode():
            for conv, args in calls:
                conv(*args)
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seconds", type=float, default=3.0, help="timing budget per net and batch")
    p.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()])
    p.add_argument("--engines", action="store_true",
                   help="also time the engines' own sessions on our export and "
                        "Net(engine='auto')")
    p.add_argument("--steps", action="store_true", help="also time each step of the fast path")
    p.add_argument("--public-row", action="store_true",
                   help="also time the CPU row on public calls (no oneDNN fused operators)")
    p.add_argument("--conv-bound", action="store_true",
                   help="also time the forward's convolutions alone (oneDNN calls on their "
                        "recorded inputs) and print the ratio a forward of nothing else "
                        "would reach")
    args = p.parse_args(argv)
    import cv2
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        sys.exit(f"OpenCV {cv2.__version__} has no Caffe importer to compare with: run this in "
                 "an environment with opencv-python-headless<5")
    if args.engines and not os.environ.get("CAFFE_COMPAT_ENGINE_CACHE"):
        import tempfile
        os.environ["CAFFE_COMPAT_ENGINE_CACHE"] = tempfile.mkdtemp(prefix="bench-engines-")
    summary, bounds, auto = [], [], []
    for threads in args.threads:
        table(args, threads, summary, bounds, auto)
    print(f"smallest ratio {min(summary):.2f}, median {statistics.median(summary):.2f}; "
          f"load average {os.getloadavg()[0]:.2f} (a shared machine: compare ratios, not "
          "times)")
    if auto:
        print(f"engine='auto': smallest ratio {min(a for a, _ in auto):.2f}, median "
              f"{statistics.median(a for a, _ in auto):.2f} over {len(auto)} cases (goals: 1.2 "
              f"and 1.5); auto / fastest raw session: largest {max(o for _, o in auto):.3f} "
              "(goal: at most 1.05)")
    if bounds:
        print(f"convolutions alone: smallest ratio bound {min(bounds):.2f} (OpenCV's forward / "
              "the time of our forward's oneDNN convolution calls and nothing else)")


def table(args, threads, summary, bounds, auto):
    import cv2
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    print(f"caffe_compat Net.forward vs OpenCV {cv2.__version__} dnn, {threads} threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}), "
          f"torch {torch.__version__}; ratio = OpenCV time / ours (> 1: faster than OpenCV)")
    cols = ["ours"] + ([s[0] for s in STEPS] if args.steps else [])
    print(f"{'net':>12} {'batch':>5} {'OpenCV f/s':>10} {'ours f/s':>9} {'ratio':>6} "
          f"{'(min-max)':>12} {'max diff':>9}"
          + ("  ratio per step: " + " | ".join(cols[1:]) if args.steps else "")
          + ("  public row / ours" if args.public_row else "")
          + ("  convolutions alone: ratio bound" if args.conv_bound else "")
          + ("  ratio: auto (engine) | raw ort | raw ov | auto/raw" if args.engines else ""))
    rng = np.random.default_rng(0)
    work = None
    for name in args.nets:
        text, model, size = build(name)
        net = Net(text, phase="test")
        net.copy_from(caffe_pb2.NetParameter.FromString(model))
        net.eval()
        theirs = cv2.dnn.readNetFromCaffe(np.frombuffer(text.encode(), np.uint8),
                                          np.frombuffer(model, np.uint8))
        out_name = net.outputs[0]
        if args.engines:
            import tempfile

            from caffe_compat.export import export_onnx
            work = work or tempfile.mkdtemp(prefix="bench-zoo-")
            path = os.path.join(work, f"{name}.onnx")
            export_onnx(net, path)
            auto_net = Net(text, phase="test", engine="auto")
            auto_net.copy_from(caffe_pb2.NetParameter.FromString(model))
        for batch in args.batches:
            x = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32) * 100
            xt = torch.from_numpy(x)

            def ours():
                with torch.inference_mode():
                    return net.forward(data=xt, keep_blobs=False)[out_name]

            def opencv():
                theirs.setInput(x)
                return theirs.forward()

            a, b = ours().numpy(), opencv()
            diff = relative_diff(a, b, detections="DetectionOutput" in text)
            runs = {"opencv": opencv, "ours": ours}
            if args.steps:
                for label, flags in STEPS:
                    def step(flags=flags):
                        with step_flags(net, flags):
                            return ours()
                    runs[label] = step
            if args.public_row:
                def public():
                    with public_row():
                        return ours()
                runs["public"] = public
            if args.conv_bound:
                runs["convolutions"] = convolutions_alone(net, ours)
            raw = {}
            if args.engines:
                raw = raw_sessions(path, threads, x.shape)

                def ours_auto():
                    with torch.inference_mode():
                        return auto_net.forward(data=xt, keep_blobs=False)[out_name]
                ours_auto()              # first use: export, check, calibration (not timed)
                chosen = next(iter(auto_net._engine_runners.values())).last_engine
                runs["auto"] = ours_auto
                runs.update({k: (lambda f=f: f(x)) for k, f in raw.items()})
            med, times = rounds(runs, args.seconds)
            ratios = [tb / ta for ta, tb in zip(times["ours"], times["opencv"])]
            r = med["opencv"] / med["ours"]
            summary.append(r)
            line = (f"{name:>12} {batch:5d} {batch / med['opencv']:10.1f} "
                    f"{batch / med['ours']:9.1f} {r:6.2f} {min(ratios):5.2f}-"
                    f"{max(ratios):<5.2f} {diff:9.1e}")
            if args.steps:
                line += "  " + " | ".join(f"{med['opencv'] / med[s[0]]:.2f}" for s in STEPS)
            if args.public_row:
                line += f"  {med['public'] / med['ours']:.3f}"
            if args.conv_bound:
                line += f"  {med['opencv'] / med['convolutions']:.2f}"
                bounds.append(med["opencv"] / med["convolutions"])
            if args.engines:
                fastest = min(med[k] for k in raw) if raw else float("nan")
                auto.append((med["opencv"] / med["auto"], med["auto"] / fastest))
                line += (f"  {med['opencv'] / med['auto']:.2f} ({chosen}) | "
                         + " | ".join(f"{med['opencv'] / med[k]:.2f}" if k in raw else "-"
                                      for k in ("onnxruntime", "openvino"))
                         + f" | {med['auto'] / fastest:.3f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
