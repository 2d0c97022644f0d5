"""Evaluation throughput on this machine: frames per second of run_eval's batched forward.

    python benchmarks/bench_eval.py [--frames 512] [--batch 1 16 64 128] [--threads N]
        [--weights W.caffemodel] [--size 96]

Writes synthetic crops (one ``dev_1.mat`` of ``--frames`` random 96x96 faces) to a temporary
folder and times :func:`matlab_ports.run_eval.run_eval` on them for each batch size (batch 1 is
eval_video.m's frame-by-frame loop). Without ``--weights`` the CNN+D deploy net gets Caffe
filler weights (the speed does not depend on the values). Prints frames/s per batch size, the
speed-up over batch 1, the forward benchmark's loop measured in the same run on the same frames
(Net.forward on ready float32 batches) with the ratio, and saves a bar chart (``--plot``, default bench_eval.png in the
temporary folder).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _weights(path, size, folder):
    if path:
        return path
    import caffe_compat
    from lq_models import get, set_input_size
    from caffe_compat.net.core import load_net_param
    npm = set_input_size(load_net_param(str(get("hr").deploy_path)), size, size)
    net = caffe_compat.Net(npm, phase="test", seed=1)
    out = os.path.join(folder, "filler.caffemodel")
    net.save(out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64, 128])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating runs per batch size (medians reported)")
    parser.add_argument("--plot", default=os.path.join(tempfile.gettempdir(), "bench_eval.png"),
                        help="bar chart PNG (default: bench_eval.png in the temporary folder)")
    args = parser.parse_args(argv)

    import torch
    from matlab_ports.matfile import savemat
    from matlab_ports.run_eval import run_eval
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        crops = os.path.join(tmp, "crops")
        os.makedirs(crops)
        n = args.frames
        savemat(os.path.join(crops, "dev_1.mat"),
                {"video": rng.random((args.size, args.size, n), dtype=np.float32),
                 "valence": rng.uniform(-1, 1, (1, n)), "video_time": np.arange(n)[None] / 25})
        weights = _weights(args.weights, args.size, tmp)
        print(f"CNN+D {args.size}x{args.size}, {n} frames, torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}"
              f", {os.cpu_count()} CPU(s)")
        run_eval(None, weights, crops, None, batch=min(args.batch), progress=False)  # warm-up
        # the peer, measured in the same run: the forward benchmark's loop (Net.forward on
        # ready float32 batches of the same frames, as benchmarks/bench_forward.py times it)
        from lq_models import load_net
        peer = load_net(weights, input_size=(args.size, args.size))
        blobs = torch.from_numpy(np.random.default_rng(1).random(
            (n, 1, args.size, args.size), dtype=np.float32))

        def peer_fps(b):
            t0 = time.perf_counter()
            with torch.no_grad():
                for start in range(0, n, b):
                    peer.forward(data=blobs[start:start + b])
            return n / (time.perf_counter() - t0)

        for b in args.batch:
            evals, walls, peers = [], [], []
            for _ in range(max(1, args.repeat)):   # alternating, so load affects both alike
                t0 = time.perf_counter()
                res = run_eval(None, weights, crops, None, batch=b, progress=False)
                walls.append(n / (time.perf_counter() - t0))
                evals.append(res.frames_per_second)
                peers.append(peer_fps(b))
            fps, whole, ref = (statistics.median(v) for v in (evals, walls, peers))
            rows.append((b, fps, whole))
            print(f"batch {b:>4}: {fps:8.1f} frames/s (run_eval forward), {whole:8.1f} frames/s "
                  f"(whole run_eval incl. loading and metrics), forward benchmark loop "
                  f"{ref:8.1f} -> ratio {fps / ref:.3f} (whole {whole / ref:.3f})")
    base = rows[0][1] if rows and rows[0][0] == 1 else None
    if base:
        for b, fps, _ in rows[1:]:
            print(f"batch {b:>4}: {fps / base:.2f}x the frame-by-frame speed")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.bar([str(b) for b, _, _ in rows], [f for _, f, _ in rows], color="tab:blue")
        ax.set_xlabel("batch size (frames per forward)")
        ax.set_ylabel("frames / s")
        ax.set_title(f"run_eval CNN+D {args.size}x{args.size} on CPU "
                     f"({torch.get_num_threads()} threads)")
        fig.tight_layout()
        out = args.plot
        from caffe_compat.io.atomic import atomic_path
        with atomic_path(out, ".png") as tmp_png:
            fig.savefig(tmp_png, format="png")
        print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
