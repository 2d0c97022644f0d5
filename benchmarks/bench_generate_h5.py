"""Time prepare_h5_files / generate_h5 on an AVEC-size synthetic input, with peak memory.

    python benchmarks/bench_generate_h5.py [--frames 7500] [--configs default,mix]
                                           [--mat-version 6] [--workdir DIR] [--keep]

Input: 18 sequences (train_1..9, dev_1..9) of ``--frames`` 96x96 frames each, written by this
script into a temporary folder (removed at the end unless ``--keep``): ``video`` double holding
single-rounded 8-bit levels (k/255), ``valence`` and ``video_time`` 1xN, as prepare_dataset.m
saves them. ``--mat-version 6`` (default) writes them uncompressed (fast to generate);
``7`` compresses them as MATLAB's default ``save`` does (slow to generate, and loading pays
zlib's inflate).

Each configuration runs the whole script (train then test, one random stream) in a child
process, which reports its wall time and peak resident memory (``VmHWM`` of /proc/self/status:
the high-water mark of the process's own memory since exec; ``ru_maxrss`` would also count the
parent's at fork time on Linux). The page cache of the temporary store is not included: it is
read with pread, not mapped. The inputs are generated in another child, so the parent stays
small. Targets: under 5 minutes and 1.5 GB for the AVEC size (18 x 7500 frames).
"""
import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIGS = {
    "default": {},
    "mix": {"mix": True},
    "mix+mean+norm": {"mix": True, "mean_sub": True, "norm": True},
    "multi": {"mode": "multi", "multi_tail": "zeros"},
}


def make_inputs(folder, frames, version, seed=0):
    from matlab_ports.matfile import savemat
    from matlab_ports.prepare_h5_files import TEST, TRAIN

    rng = np.random.default_rng(seed)
    for name in TRAIN + TEST:
        base = rng.integers(30, 220, (12, 12, frames), dtype=np.int16)
        img = np.repeat(np.repeat(base, 8, axis=0), 8, axis=1)
        img += rng.integers(-12, 13, img.shape, dtype=np.int16)
        video = (np.clip(img, 0, 255).astype(np.float32) / np.float32(255)).astype(np.float64)
        del base, img
        savemat(os.path.join(folder, f"{name}.mat"),
                {"video": video, "valence": rng.uniform(-0.3, 0.6, (1, frames)),
                 "video_time": np.arange(frames)[None, :] * 0.04}, version=version)
        del video


def child(args):
    from matlab_ports.generate_h5 import H5Options, generate_h5
    from matlab_ports.prepare_h5_files import TEST, TRAIN
    from matlab_ports.rng import MatlabRandomStream

    opt = H5Options.coerce(CONFIGS[args.child])
    stream = MatlabRandomStream(0)
    out = {}
    t0 = time.perf_counter()
    for what, names in (("train", TRAIN), ("test", TEST)):
        inputs = [os.path.join(args.data, n + ".mat") for n in names]
        res = generate_h5(inputs, 96, os.path.join(args.out, what), 128, opt, stream,
                          progress=False)
        out[what] = {"frames": res.frames, "seconds": res.seconds, "written": sum(res.samples)}
    out["wall"] = time.perf_counter() - t0
    out["maxrss_mb"] = vm_hwm_mb()
    print(json.dumps(out))


def vm_hwm_mb():
    """Peak resident set of this process since exec (MB), from /proc; ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=7500, help="frames per sequence (7500)")
    ap.add_argument("--configs", default="default,mix",
                    help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--mat-version", choices=("6", "7"), default="6")
    ap.add_argument("--workdir", default=None, help="where to put inputs and outputs")
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if args.make:
        return make_inputs(args.data, args.frames, args.mat_version)
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"--configs: unknown {c!r}; expected some of {', '.join(CONFIGS)}")
    work = tempfile.mkdtemp(prefix="bench_generate_h5-", dir=args.workdir)
    data = os.path.join(work, "mat")
    os.makedirs(data)
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--make", "--data", data, "--frames",
                        str(args.frames), "--mat-version", args.mat_version], check=True)
        size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
        print(f"inputs: 18 x {args.frames} frames 96x96 double, MAT v{args.mat_version}, "
              f"{size / 1e9:.2f} GB, generated in {time.perf_counter() - t:.0f} s ({work})")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
              f"(shared, timings are noisy)")
        print(f"{'config':>14} {'frames':>8} {'wall s':>8} {'frames/s':>9} {'train s':>8} "
              f"{'test s':>8} {'peak RSS MB':>12}  targets (<300 s, <1536 MB)")
        for c in configs:
            out = os.path.join(work, "h5")
            cmd = [sys.executable, __file__, "--child", c, "--data", data, "--out", out]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(f"{c}: failed\n{proc.stderr}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            frames = r["train"]["frames"] + r["test"]["frames"]
            ok = "ok" if r["wall"] < 300 and r["maxrss_mb"] < 1536 else "MISSED"
            print(f"{c:>14} {frames:>8} {r['wall']:>8.1f} {frames / r['wall']:>9.0f} "
                  f"{r['train']['seconds']:>8.1f} {r['test']['seconds']:>8.1f} "
                  f"{r['maxrss_mb']:>12.0f}  {ok}")
            shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep:
            print(f"inputs kept in {data}")
            shutil.rmtree(os.path.join(work, "h5"), ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
