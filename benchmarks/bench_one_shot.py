"""One-shot cv2.dnn programs as whole processes: ours (OpenCV 5 + ``caffe_compat.dnn.install()``)
against OpenCV 4's own Caffe importer, on the same machine, alternating.

    python benchmarks/bench_one_shot.py [--kinds classification ssd pose segmentation
                                         colorization] [--rounds 2] [--loads idle pinned]
                                        [--caches empty warm] [--quick] [--cv5 /work/cv5]
                                        [--cv4 DIR] [--before TREE]
                                        [--files DIR]

A program (benchmarks/one_shot_nets.py: one per kind of OpenCV 4's samples/dnn) reads a Caffe
net with seeded random weights, prepares one image with cv2, runs ``forward()`` once and
exits. Each is run as a new Python process and timed from start to exit (interpreter start,
imports, reading the files, the forward, the answer): the OpenCV 4 program with the venv's
OpenCV 4.x, ours with the same program after ``dnn.install()`` on OpenCV 5 (``--cv5``: the
folder holding OpenCV 5's ``cv2`` package, put first on PYTHONPATH).

Cache states of ours: ``empty`` (a new, empty ``CAFFE_COMPAT_ENGINE_CACHE`` for every run) and
``warm`` (a cache in which an earlier run of the same program with
``CAFFE_COMPAT_ENGINE_DEFER=0`` stored the export and the engines' verdicts). Loads
(benchmarks/bench_contention.py's): ``idle`` and ``pinned`` (a busy loop pinned to the last CPU
at nice -5, needs root). Runners alternate in every round (OpenCV 4, ours empty, ours warm,
...), ``--rounds`` rounds per kind and load; printed: the median wall time of each and ours /
OpenCV 4 (at most 1.0 is the goal), the median over rounds of each round's ratio (a round's
processes run back to back, so a drift of the machine's speed between rounds cancels in it),
and whether both programs printed the same answer line (classes, detections, points: the same
numbers within the outputs' rounding). The CPU seconds (user + system) of each process are
printed too: on a machine shared with other work they show what a program costs where wall time
mostly shows the neighbours.

``--before TREE``: a third runner in every round, the same program with another checkout of
this project (the code before a change) first on PYTHONPATH instead of this one, in the same
cache states (its own caches); printed besides: ours / before, the median of each round's ratio.

The nets' files are written once into ``--files`` (default: a folder under the temporary
directory, kept for the next run; the OpenPose and FCN-8s caffemodels take 20-60 s to write).
On a shared machine only ratios of one run mean anything.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.bench_contention import background  # noqa: E402
from benchmarks.one_shot_nets import PROGRAMS, write_kind  # noqa: E402

KINDS = tuple(PROGRAMS)
LOAD_S = 3600           # a load's child ends by itself after this
CV4 = ""                # --cv4: a folder holding OpenCV 4's cv2 (default: the venv's own)
TREES = {"ours": REPO}  # the checkout each side of ours runs (--before adds "before")


def _env(runner, cv5, cache):
    env = dict(os.environ)
    env.pop("CAFFE_COMPAT_ENGINE", None)
    env.pop("CAFFE_COMPAT_ENGINE_DEFER", None)      # bench_contention sets it for itself
    if runner == "opencv4":
        env["PYTHONPATH"] = CV4
        return env
    env["PYTHONPATH"] = os.pathsep.join([TREES[runner], cv5])
    env["CAFFE_COMPAT_ENGINE_CACHE"] = cache
    return env


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_program(path, args, env, cpu=None):
    """(wall seconds, last line printed) of one process; its CPU seconds (user + system) are
    appended to the list ``cpu``."""
    c, t = _children_cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, path] + list(args), env=env, capture_output=True,
                         text=True, timeout=1800)
    took = time.perf_counter() - t
    if cpu is not None:
        cpu.append(_children_cpu() - c)
    if out.returncode != 0:
        raise RuntimeError(f"{path} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return took, lines[-1] if lines else ""


def _files(root, kind, quick):
    folder = os.path.join(root, kind + ("-quick" if quick else ""))
    marker = os.path.join(folder, "done")
    if not os.path.exists(marker):
        t = time.perf_counter()
        paths = write_kind(folder, kind, quick)
        with open(marker, "w") as f:
            f.write(repr(paths))
        print(f"  wrote the {kind} files in {time.perf_counter() - t:.1f} s", flush=True)
    with open(marker) as f:
        return eval(f.read())   # noqa: S307 - our own repr of a dict of paths


def round_ratio(times, runner, base="opencv4"):
    """The median over rounds of ``runner``'s wall time / ``base``'s in the same round."""
    return statistics.median(t / b for t, b in zip(times[runner], times[base]))


def bench_kind(kind, paths, cv5, rounds, caches, work):
    """``{runner: [wall seconds]}``, ``{runner: [CPU seconds]}`` and ``{runner: answer}`` over
    ``rounds`` alternating rounds; a runner is ``opencv4`` or ``SIDE-CACHE`` (SIDE: a key of
    ``TREES``)."""
    sides = list(TREES)
    for side in sides:
        warm = os.path.join(work, f"warm-{side}-{kind}")
        if "warm" in caches and not os.path.isdir(warm):
            env = _env(side, cv5, warm)
            env["CAFFE_COMPAT_ENGINE_DEFER"] = "0"      # export, check and store now
            run_program(paths["ours"], paths["args"], env)
    runners = ["opencv4"] + [f"{side}-{c}" for c in caches for side in sides]
    times = {r: [] for r in runners}
    cpu = {r: [] for r in runners}
    answers = {}
    for _ in range(rounds):
        for r in runners:
            side, _, state = r.partition("-")
            if state == "empty":
                cache = tempfile.mkdtemp(prefix="empty-", dir=work)
            else:
                cache = os.path.join(work, f"warm-{side}-{kind}")
            program = paths["opencv4"] if r == "opencv4" else paths["ours"]
            took, line = run_program(program, paths["args"], _env(side, cv5, cache), cpu[r])
            if state == "empty":
                shutil.rmtree(cache, ignore_errors=True)
            times[r].append(took)
            answers[r] = line
    return times, cpu, answers


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--loads", nargs="+", default=["idle", "pinned"],
                    choices=["idle", "pinned", "nice0", "nice10"])
    ap.add_argument("--caches", nargs="+", default=["empty", "warm"], choices=["empty", "warm"])
    ap.add_argument("--quick", action="store_true",
                    help="smaller inputs for the pose (184) and segmentation (256) nets")
    ap.add_argument("--cv5", default=os.environ.get("OPENCV5_PATH", "/work/cv5"),
                    help="folder holding OpenCV 5's cv2 package")
    ap.add_argument("--cv4", default="",
                    help="folder holding OpenCV 4's cv2 package (default: the interpreter's)")
    ap.add_argument("--before", help="another checkout of this project (the code before a "
                    "change), timed as a third runner in every round")
    ap.add_argument("--files", default=os.path.join(tempfile.gettempdir(),
                                                    "caffe_compat-bench-one-shot"))
    args = ap.parse_args(argv)
    global CV4
    CV4 = args.cv4
    if args.before:
        TREES["before"] = os.path.abspath(os.path.expanduser(args.before))
    if "pinned" in args.loads and (os.geteuid() != 0 or len(os.sched_getaffinity(0)) < 2):
        ap.error("the pinned load needs root (nice -5) and two CPUs")
    work = tempfile.mkdtemp(prefix="bench-one-shot-")
    # byte-compiled as pip install leaves it: where PYTHONDONTWRITEBYTECODE is set (the
    # shared machine) ours would otherwise compile its modules from source in every process
    import compileall
    for tree in TREES.values():
        compileall.compile_dir(os.path.join(tree, "caffe_compat"), quiet=1)
    rows = []
    try:
        files = {k: _files(args.files, k, args.quick) for k in args.kinds}
        for load in args.loads:
            with background(load, LOAD_S):
                for kind in args.kinds:
                    times, cpu, answers = bench_kind(kind, files[kind], args.cv5, args.rounds,
                                                args.caches, work)
                    base = statistics.median(times["opencv4"])
                    row = {"load": load, "kind": kind, "opencv4": base,
                           "cpu opencv4": statistics.median(cpu["opencv4"])}
                    for c in args.caches:
                        row[c] = statistics.median(times[f"ours-{c}"])
                        row["cpu " + c] = statistics.median(cpu[f"ours-{c}"])
                        row["round " + c] = round_ratio(times, f"ours-{c}")
                        if "before" in TREES:
                            row["before " + c] = statistics.median(times[f"before-{c}"])
                            row["ours/before " + c] = round_ratio(times, f"ours-{c}",
                                                                  f"before-{c}")
                    row["same"] = all(a == answers["opencv4"] for a in answers.values())
                    row["answer"] = answers["opencv4"]
                    rows.append(row)
                    ratios = "  ".join(f"{c} {row[c]:6.2f} s ({row[c] / base:.2f}x)"
                                       + (f", before {row['before ' + c]:6.2f} s (ours / "
                                          f"before {row['ours/before ' + c]:.2f})"
                                          if "before" in TREES else "")
                                       for c in args.caches)
                    print(f"{load:<7} {kind:<14} OpenCV 4 {base:6.2f} s   ours {ratios}   "
                          f"same answer: {row['same']}", flush=True)
                    if not row["same"]:
                        print("    " + "\n    ".join(f"{r}: {a}" for r, a in answers.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nours / OpenCV 4, whole process (median of rounds; at most 1.00 is the goal; "
          "'round x': the median of each round's ratio); wall seconds, then CPU seconds (user "
          "+ system) of the process" + ("; ours / before: the median of each round's ratio"
                                        if "before" in TREES else "") + ":")
    print(f"{'load':<7} {'kind':<14} {'OpenCV 4 s':>10} " +
          " ".join(f"{c + ' s':>9} {c + ' x':>8} {'round x':>8}" for c in args.caches) +
          f" {'CPU OpenCV 4':>12} " + " ".join(f"{'CPU ' + c:>10}" for c in args.caches) +
          "".join(f" {'ours/before ' + c:>17}" for c in args.caches if "before" in TREES))
    for row in rows:
        print(f"{row['load']:<7} {row['kind']:<14} {row['opencv4']:10.2f} " +
              " ".join(f"{row[c]:9.2f} {row[c] / row['opencv4']:8.2f} {row['round ' + c]:8.2f}"
                       for c in args.caches) +
              f" {row['cpu opencv4']:12.2f} " +
              " ".join(f"{row['cpu ' + c]:10.2f}" for c in args.caches) +
              "".join(f" {row['ours/before ' + c]:17.2f}" for c in args.caches
                      if "before" in TREES))
    return rows


if __name__ == "__main__":
    main()
