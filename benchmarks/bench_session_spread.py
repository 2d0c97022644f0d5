"""How far sessions of one ONNX model, with the same settings, land from each other in one
process: the yardstick for a miss of a few per cent in ``bench_torch_free_choice.py``.

    python benchmarks/bench_session_spread.py [--net resnet50] [--batch 1] [--threads 1]
                                              [--sessions 4] [--rounds 20] [--block 0.3]

The net of ``bench_dnn.py`` (random weights) is read by cv2.dnn after ``install()`` and its
torch-free plan written with every weight in the model (as the runtime trial writes it). Then
``--sessions`` OpenVINO sessions of that file (:func:`zoo_timing.raw_sessions`, each with its
own ``Core``) and as many of ours (:func:`caffe_compat.onnx_path.runtime.tuned_session`, the
model's bytes, one shared ``Core``) take ``--block`` seconds of forwards each per round, each
round starting one session later, with a 30 ms pause between blocks. Printed per session: its
median block median against the best session's (the benchmark's statistic), and the median over
the rounds of its block against the round's median block (paired).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plan_model(name, batch, work):
    """``(path, model bytes, input name, output name, shape)`` of the torch-free plan of
    ``name`` (written to ``path`` in ``work``)."""
    import cv2
    import numpy as np
    from bench_dnn import NETS, net_files
    text, weights = net_files(name)
    proto, model = os.path.join(work, "net.prototxt"), os.path.join(work, "net.caffemodel")
    with open(proto, "w") as f:
        f.write(text)
    with open(model, "wb") as f:
        f.write(weights)
    shape = (batch, NETS[name][2], *NETS[name][1])
    net = cv2.dnn.readNetFromCaffe(proto, model)
    net.setInput(np.zeros(shape, np.float32))
    net.forward()
    if net._torch_free is None:
        raise SystemExit(f"{name}: the torch path runs the net: {net.engine_reason}")
    (key, _, _), = net._torch_free.plans()[-1:]
    whole = net._torch_free.written_again(key).whole
    data = whole.model if isinstance(whole.model, bytes) else b"".join(whole.model)
    path = os.path.join(work, "net.onnx")
    with open(path, "wb") as f:
        f.write(data)
    return path, data, whole.input_names[0], whole.output_names[0], shape


def main(argv=None):
    sys.path.insert(0, REPO)
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="resnet50")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--block", type=float, default=0.3)
    args = p.parse_args(argv)
    os.environ["CAFFE_COMPAT_THREADS"] = str(args.threads)
    import cv2
    import numpy as np

    from caffe_compat import dnn
    from caffe_compat.onnx_path import runtime
    from zoo_timing import raw_sessions
    dnn.install()
    cv2.setNumThreads(args.threads)
    path, model, name_in, name_out, shape = plan_model(args.net, args.batch,
                                                       tempfile.mkdtemp())
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    runs = {}
    for i in range(args.sessions):
        runs[f"raw {i}"] = raw_sessions(path, args.threads, shape, input_name=name_in,
                                        output=name_out)["openvino"]
        ours = runtime.tuned_session("openvino", model, [name_in], [name_out],
                                     threads=args.threads)
        runs[f"ours {i}"] = (lambda x, s=ours: s({name_in: x})[0])
    order = list(runs)
    blocks = {k: [] for k in runs}
    for r in range(args.rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:
            run, got = runs[k], []
            run(x)                                   # the block's first forward, untimed
            end = time.perf_counter() + args.block
            while time.perf_counter() < end:
                start = time.perf_counter()
                run(x)
                got.append(time.perf_counter() - start)
            blocks[k].append(statistics.median(got))
            time.sleep(0.03)
    medians = {k: statistics.median(b) for k, b in blocks.items()}
    best = min(medians.values())
    print(f"{args.net} batch {args.batch}, {args.threads} thread(s), OpenVINO sessions of one "
          f"file, {args.rounds} rounds of {args.block} s blocks")
    for k, b in blocks.items():
        paired = statistics.median(
            b[r] / statistics.median(blocks[o][r] for o in blocks) for r in range(args.rounds))
        print(f"  {k:>8}: median {medians[k] * 1e3:8.3f} ms  / best {medians[k] / best:.3f}  "
              f"paired {paired:.3f}")


if __name__ == "__main__":
    main()
