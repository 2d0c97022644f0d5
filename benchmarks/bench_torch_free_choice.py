"""cv2.dnn's default forward in a program that never imports torch, against each engine's own
session on the same ONNX model, from a net's 100th forward on.

    python benchmarks/bench_torch_free_choice.py [--nets resnet50 ...] [--batches 1 8]
                                                 [--threads 1 2] [--seconds 2] [--rounds 5]
                                                 [--warm 100] [--ort-spinning 0|1]
                                                 [--import-torch] [--control]
                                                 [--min-forwards 3]

The nets of ``bench_dnn.py`` (random weights) are written once by this process; each thread
count then runs in a fresh process that imports no torch (checked): ``caffe_compat.dnn``
installed into OpenCV 5, ``readNetFromCaffe``, ``--warm`` forwards (the runtime trial of
:mod:`caffe_compat.onnx_path.choice` happens there), then the net's own ONNX model (the plan the
forwards run, written by :mod:`caffe_compat.onnx_path`) is given to onnxruntime and OpenVINO
directly with their best settings (:func:`benchmarks.zoo_timing.raw_sessions`, the same thread
count), and the three are timed in alternating blocks of ``--seconds`` / ``--rounds``.
Every forward is timed alone (a burst of the machine's noise lengthens the forwards it falls
on, not a whole block). Printed per net and batch: the runtime our forward chose, each one's
median forward over every round, and ours / the fastest raw session's (goal: at most 1.05),
with that ratio round by round (each round's median forward against its own fastest raw
session's: lowest, highest, median); where
the rounds alone span more than the goal, the machine's noise is the larger figure.

``paired:`` the same ratios measured round by round: against each raw session apart, the
median over the rounds of ours' block median / that session's block median of the same round,
and of those the largest (against the session that is the faster in this measure). Where the
machine's speed flips between states that last seconds (``benchmarks/machine_states.py``
shows them: on a 2-core cloud machine, windows of 0.3 s whose median forward is 0.77x or 1.2x
the overall one), the median of every forward of a runner is set by the share of slow states
its blocks happened to meet, not by its speed; two blocks of one round meet the same state,
so the paired ratio is what ``--control`` (the raw runtime against itself) shows within a
few per cent. ``--min-forwards``: the forwards of a block at least (default 3), however long
they take. For a net
whose plan ends in a numpy step (the res10 SSD's DetectionOutput), the plan's ONNX model stops
before it, so the raw sessions above skip that work: such a net's whole export
(``caffe_compat.export``, written by this process, which may import torch; DetectionOutput in
ONNX operators) is timed on both engines as well, and ours / the fastest of those is printed
beside (``ours/export``).
``CAFFE_COMPAT_THREADS`` and ``cv2.setNumThreads`` give every library the same count.
Each round starts one runner later than the one before (``--fixed-order``: ours first in every
round), so that no library always runs right after the same other one.

``--control``: a second raw session of the runtime our forward chose joins the rotation, and
``control/raw`` (it against the faster of the first raw sessions) is printed beside ours: how
far the raw runtime lands from itself in the same run (a session's own luck and the noise of
its blocks), the yardstick for a miss of ours of a few per cent.

``--import-torch``: the program imports torch first (cv2.dnn's forward takes the same path and
trial); ``caffe_compat.Net(engine="auto")`` (its engines, :class:`caffe_compat.inference.
engines.EngineRunner`, chosen by the same trial, torch among the runtimes) is timed beside it,
against the raw sessions on the torch-free path's model (``Net/raw``) and on the net's whole
export (``caffe_compat.export``, what its engines run: ``Net/export``). Both modes start
with an empty cache (so that the trials run: a winner stored by an earlier run would settle
the plans) unless ``$CAFFE_COMPAT_ENGINE_CACHE`` is set.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, os, statistics, sys, threading, time
_PARENT = os.getppid()


def _parent_gone():
    # a child left running by a stopped benchmark would load the machine the next run times
    while os.getppid() == _PARENT:
        time.sleep(1.0)
    os._exit(1)
threading.Thread(target=_parent_gone, daemon=True).start()
sys.path.insert(0, {repo!r}); sys.path.insert(0, {bench!r})
IMPORT_TORCH = {import_torch!r}
if IMPORT_TORCH:
    import torch
import numpy as np
import cv2
from caffe_compat import dnn
dnn.install()
threads = int(os.environ["CAFFE_COMPAT_THREADS"])
cv2.setNumThreads(threads)
from zoo_timing import raw_sessions
jobs = json.loads(sys.argv[1])
rows = []
for job in jobs:
    net = cv2.dnn.readNetFromCaffe(job["proto"], job["model"])
    x = np.random.default_rng(0).standard_normal(job["shape"]).astype(np.float32)
    out = job["output"]

    def ours():
        net.setInput(x)
        return net.forward(out)
    for _ in range(job["warm"]):
        ours()
    if net._torch_free is None:
        raise SystemExit(job["name"] + ": the torch path runs the net: " + str(net.engine_reason))
    runs = {{"ours": ours}}
    (key, plan, session), = net._torch_free.plans()[-1:]
    settled = [getattr(session, "settled", True)]      # one runtime answers from here on
    engine = getattr(session, "runtime", "?")
    if IMPORT_TORCH:
        import caffe_compat
        own = caffe_compat.Net(job["proto"], job["model"], phase="TEST", engine="auto")
        own_input = own.inputs[0]

        def net_auto():
            with torch.inference_mode():
                return own.forward(keep_blobs=False, **{{own_input: x}})
        for _ in range(job["warm"]):
            net_auto()
        runs["Net auto"] = net_auto
        runner, = own._engine_runners.values()
        trial, = runner._runs.values()
        settled.append(getattr(trial, "settled", True))
        engine += "/" + runner.last_engine
    # the same graph with every weight in the model's bytes (as the runtime trial writes it)
    again = net._torch_free.written_again(key)
    whole = again.whole
    model = whole.model if isinstance(whole.model, bytes) else b"".join(whole.model)
    path = os.path.join(job["work"], job["name"] + "-%d.onnx" % job["shape"][0])
    with open(path, "wb") as f:
        f.write(model)
    name_in = whole.input_names[0]
    name_out = again.graph_outputs.get(out, whole.output_names[0])
    raw = raw_sessions(path, threads, tuple(job["shape"]), input_name=name_in,
                       output=name_out, ort_spinning=job["spin"])
    for k, f in raw.items():
        runs[k] = (lambda f=f: f(x))
        runs[k]()
    if job["control"]:
        # a second raw session of the runtime our forward chose: the peer against itself
        again_raw = raw_sessions(path, threads, tuple(job["shape"]), input_name=name_in,
                                 output=name_out, ort_spinning=job["spin"])
        chosen = engine.split("/")[0]
        if chosen in again_raw:
            runs["control"] = (lambda f=again_raw[chosen]: f(x))
            runs["control"]()
    if job["export"]:
        for k, f in raw_sessions(job["export"], threads, tuple(job["shape"]),
                                 input_name=name_in, output=out,
                                 ort_spinning=job["spin"]).items():
            runs["export " + k] = (lambda f=f: f(x))
            runs["export " + k]()
    # every forward timed alone: a burst of the machine's noise lengthens the forwards it
    # falls on, not a whole block's mean
    times = {{k: [] for k in runs}}       # per round, the block's median forward
    each = {{k: [] for k in runs}}        # every forward of every round
    block = job["seconds"] / job["rounds"] / len(runs)
    order = list(runs)
    for r in range(job["rounds"]):
        # each round starts one runner later: no library always follows the same other one
        # (a runtime's threads still awake after its block slow the next block's first forwards)
        for k in (order[r % len(order):] + order[:r % len(order)] if job["rotate"] else order):
            f = runs[k]
            got = []
            end = time.perf_counter() + block
            while True:
                t0 = time.perf_counter()
                f()
                t = time.perf_counter()
                got.append(t - t0)
                if t >= end and len(got) >= job["min_forwards"]:
                    break
            times[k].append(statistics.median(got))
            each[k].extend(got)
            time.sleep(0.05)
    med = {{k: statistics.median(v) for k, v in each.items()}}

    def spread(who, peers):
        # the ratio round by round (each round's own fastest peer): how far the machine's
        # noise moves it (a median past 1.05 with rounds under it is noise, not a choice)
        peers = [k for k in times if peers(k)]
        if who not in times or not peers:
            return [float("nan")] * 3
        got = [times[who][r] / min(times[k][r] for k in peers) for r in range(job["rounds"])]
        return [min(got), max(got), statistics.median(got)]

    def paired(who, peers):
        # against each peer apart, the median over the rounds of the ratio of the two block
        # medians of the same round (both blocks met the same state of the machine); the
        # largest of those: against the peer that is the faster one in this measure (a
        # round's min over two peers would favour the peers by their own noise)
        peers = [k for k in times if peers(k)]
        if who not in times or not peers:
            return float("nan")
        return max(statistics.median(times[who][r] / times[k][r]
                                     for r in range(job["rounds"])) for k in peers)
    is_raw = lambda k: k in ("onnxruntime", "openvino")
    is_export = lambda k: k.startswith("export")

    def pooled(who, peers):
        # the median of every forward of ``who`` against the fastest such median of ``peers``
        return med.get(who, float("nan")) / min((v for k, v in med.items() if peers(k)),
                                                default=float("nan"))
    rows.append(dict(name=job["name"], batch=job["shape"][0], engine=engine,
                     ms={{k: v * 1e3 for k, v in med.items()}},
                     ratio=pooled("ours", is_raw), control=pooled("control", is_raw),
                     export=pooled("ours", is_export), net_auto=pooled("Net auto", is_raw),
                     net_export=pooled("Net auto", is_export),
                     ours_rounds=spread("ours", is_raw),
                     net_rounds=spread("Net auto", is_export),
                     paired=dict(ours=paired("ours", is_raw), export=paired("ours", is_export),
                                 net_auto=paired("Net auto", is_raw),
                                 net_export=paired("Net auto", is_export),
                                 control=paired("control", is_raw)),
                     settled=settled))
assert IMPORT_TORCH or "torch" not in sys.modules, "torch was imported"
print(json.dumps(rows))
"""


def main(argv=None):
    sys.path.insert(0, REPO)
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    from bench_dnn import NETS, net_files
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warm", type=int, default=100)
    p.add_argument("--ort-spinning", type=int, choices=(0, 1), default=1)
    p.add_argument("--control", action="store_true",
                   help="a second raw session of the runtime our forward chose, timed in the "
                        "same rotation: the raw runtime against itself (control/raw)")
    p.add_argument("--import-torch", action="store_true",
                   help="the program imports torch first: cv2.dnn's forward and "
                        "caffe_compat.Net(engine='auto') against the raw sessions on the "
                        "net's export (caffe_compat.export)")
    p.add_argument("--min-forwards", type=int, default=3,
                   help="forwards of a block at least, however long they take (default 3)")
    p.add_argument("--fixed-order", action="store_true",
                   help="every round in the same order, ours first (the order of the runs "
                        "before 2026-11-29; by default each round starts one runner later)")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-choice-")
    jobs = []
    for name in args.nets:
        text, model = net_files(name)
        proto, weights = os.path.join(work, name + ".prototxt"), os.path.join(work, name +
                                                                               ".caffemodel")
        with open(proto, "w") as f:
            f.write(text)
        with open(weights, "wb") as f:
            f.write(model)
        size, channels = NETS[name][1], NETS[name][2]
        output = "detection_out" if name == "res10_ssd" else None
        export = _whole_export(proto, weights, output, work) \
            if output or args.import_torch else None
        for batch in args.batches:
            jobs.append(dict(name=name, proto=proto, model=weights, output=output,
                             shape=[batch, channels, *size], warm=args.warm, work=work,
                             seconds=args.seconds, rounds=args.rounds,
                             spin=bool(args.ort_spinning), export=export,
                             control=args.control, rotate=not args.fixed_order,
                             min_forwards=args.min_forwards))
    child = CHILD.format(repo=REPO, bench=os.path.join(REPO, "benchmarks"),
                         import_torch=bool(args.import_torch))
    print("cv2.dnn default forward (OpenCV 5 + install(), "
          + ("torch imported; caffe_compat.Net(engine='auto') too)" if args.import_torch else "no torch)") + " vs raw sessions on the torch-free "
          f"path's ONNX model, from forward {args.warm} on; median ms per forward; raw onnxruntime "
          f"spinning {args.ort_spinning}")
    for threads in args.threads:
        env = dict(os.environ, CAFFE_COMPAT_THREADS=str(threads))
        if "CAFFE_COMPAT_ENGINE_CACHE" not in os.environ:
            # an empty cache: the trials run (no winner stored by an earlier run)
            env["CAFFE_COMPAT_ENGINE_CACHE"] = os.path.join(work, f"engines-{threads}")
        got = subprocess.run([sys.executable, "-c", child, json.dumps(jobs)], env=env,
                             capture_output=True, text=True)
        if got.returncode:
            print(got.stderr[-3000:])
            continue
        rows = json.loads(got.stdout.strip().splitlines()[-1])
        print(f"\n{threads} thread(s)")
        print(f"{'net':>13} {'batch':>5} {'chosen':>11} {'ours ms':>8} {'ort ms':>8} "
              f"{'ov ms':>8} {'ours/raw':>8} {'ours/export':>11} {'Net/raw':>8} {'Net/export':>10}")
        for r in rows:
            ms = r["ms"]
            print(f"{r['name']:>13} {r['batch']:>5} {r['engine']:>11} {ms['ours']:8.2f} "
                  f"{ms.get('onnxruntime', float('nan')):8.2f} "
                  f"{ms.get('openvino', float('nan')):8.2f} {r['ratio']:8.3f} "
                  f"{r['export']:11.3f} {r['net_auto']:8.3f} {r['net_export']:10.3f}")
            rounds = "ours/raw by round %.3f-%.3f (median %.3f)" % tuple(r["ours_rounds"])
            if args.import_torch:
                rounds += ", Net/export by round %.3f-%.3f (median %.3f)" % tuple(
                    r["net_rounds"])
            if args.control:
                rounds += ", control/raw %.3f" % r["control"]
            pr = r["paired"]
            paired = "paired: ours/raw %.3f" % pr["ours"]
            if r["name"] == "res10_ssd" or args.import_torch:
                paired += ", ours/export %.3f" % pr["export"]
            if args.import_torch:
                paired += ", Net/raw %.3f, Net/export %.3f" % (pr["net_auto"], pr["net_export"])
            if args.control:
                paired += ", control/raw %.3f" % pr["control"]
            print(" " * 20 + paired)
            settled = "" if all(r["settled"]) else "  (a trial still running after --warm)"
            print(" " * 20 + rounds + settled)
            print(" " * 20 + "  ".join(f"{k} {v:.2f}" for k, v in ms.items()))


def _whole_export(proto, weights, output, work):
    """The net's whole ONNX export up to ``output`` (its path), as a user would write it."""
    import caffe_compat
    from caffe_compat.export.onnx_export import export_onnx
    path = os.path.splitext(weights)[0] + "-export.onnx"
    export_onnx(caffe_compat.Net(proto, weights, phase="TEST"), path, outputs=[output] if output else None)
    return path


if __name__ == "__main__":
    main()
