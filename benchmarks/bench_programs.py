"""Whole programs, timed as processes: real Caffe 1.0 against ours, alternating, idle and with
one core held.

    python benchmarks/bench_programs.py --caffe PREFIX [--programs NAME ...] [--rounds 3]
                                        [--loads idle pinned] [--pause 1.0] [--profile]
                                        [--workdir DIR] [--markdown]

Programs are the files ``benchmarks/programs/*.py`` (found, not listed here; a file starting
with ``_`` is a helper). Each is a stand-alone program of this project (Apache-2.0, as its
header says) doing a kind of work Caffe users do with pycaffe or Caffe's tools, and defines:

- ``setup(workdir)``: writes the data and weights it reads (seeded), once, outside the timing,
  run by this interpreter (``python PROGRAM.py setup WORKDIR``);
- ``main()``: the program itself, run as ``python PROGRAM.py`` in ``workdir``, by real Caffe's
  Python (``PREFIX/env.sh`` sourced: its venv's interpreter and its ``PYTHONPATH``) and by
  ours (this interpreter, the repository first on ``PYTHONPATH``: ``import caffe`` is ours);
- or, for a tool run, ``command(side)``: the command line for ``side`` ("caffe": the names
  ``PREFIX/env.sh`` puts on ``PATH``; "ours": ``caffe-compat``), run in ``workdir``.

Each round runs every program once per runner, the runners in alternating order (Caffe first
in even rounds), with ``--pause`` seconds between processes so that one's spinning threads
are asleep before the next starts. ``--loads``: ``idle``, and ``pinned`` (a busy loop pinned to
the last CPU at nice -5, the load of ``bench_contention.py``, started before the round and
stopped after it; needs root). Printed: each program's median wall time per runner and load,
ours / Caffe, the geometric mean of the ratios per load; with ``--profile`` (one more run of
ours per program, untimed by the rounds), the time per phase of ours
(``benchmarks/program_phases.py``: start-up, imports, loading, forward, backward, data, update,
test passes, other). Without ``--caffe`` ours alone is timed. ``--before TREE``: a third
runner, this interpreter with another checkout first on PYTHONPATH (before / after figures
in the same rounds). Wall and CPU time (user + system of the process) are both reported: on
a machine shared with other work the CPU time is the steadier figure.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS_DIR = os.path.join(REPO, "benchmarks", "programs")
PHASES = os.path.join(REPO, "benchmarks", "program_phases.py")
LOAD_BOUND_S = 3600     # a load's child ends by itself after this, should it outlive us
SETTLE_S = 0.6          # after a load starts, before the first timed process
PHASE_ORDER = ("start-up", "imports", "loading", "forward", "backward", "forward+backward",
               "data", "update", "test", "other")


def discover(names=None):
    """{name: module} of the program files (imported for their setup / command functions:
    a program file imports only the standard library at its top)."""
    found = {}
    for entry in sorted(os.listdir(PROGRAMS_DIR)):
        if not entry.endswith(".py") or entry.startswith("_"):
            continue
        name = entry[:-3]
        if names and name not in names:
            continue
        path = os.path.join(PROGRAMS_DIR, entry)
        spec = importlib.util.spec_from_file_location(f"_bench_program_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "setup") or not (hasattr(module, "main") or
                                                hasattr(module, "command")):
            raise SystemExit(f"{path}: a program defines setup(workdir) and main() or "
                             "command(side)")
        module.path = path
        found[name] = module
    if names:
        missing = sorted(set(names) - set(found))
        if missing:
            raise SystemExit(f"no program named {', '.join(missing)} in {PROGRAMS_DIR} "
                             f"(there are: {', '.join(sorted(discover()))})")
    return found


def caffe_environment(prefix):
    """The environment ``source PREFIX/env.sh`` gives (real Caffe's interpreter and paths)."""
    script = os.path.join(prefix, "env.sh")
    if not os.path.isfile(script):
        raise SystemExit(f"--caffe {prefix}: no env.sh there (the prefix of a Caffe 1.0 build "
                         "whose env.sh puts its python and tools on PATH and PYTHONPATH)")
    base = dict(os.environ)          # without this repository: Caffe's own ``caffe`` only
    base["PYTHONPATH"] = os.pathsep.join(
        p for p in base.get("PYTHONPATH", "").split(os.pathsep)
        if p and os.path.abspath(p) != REPO)
    out = subprocess.run(["bash", "-c", f'source "{script}" >/dev/null && env -0'],
                         check=True, capture_output=True, env=base).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return env


def our_environment(tree=REPO):
    """This interpreter's environment with ``tree`` (this repository, or another checkout
    for ``--before``) first on PYTHONPATH and this repository's own entry dropped."""
    env = dict(os.environ)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
            if p and os.path.abspath(p) != REPO]
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(tree)] + rest)
    return env


def argv_for(program, side, env):
    if hasattr(program, "command"):
        argv = list(program.command(side))
        tool = shutil.which(argv[0], path=env["PATH"])
        if tool is None and side != "caffe":      # the venv's console script, not activated
            tool = shutil.which(argv[0], path=os.path.dirname(sys.executable))
        if tool is None:
            raise SystemExit(f"{program.path}: the tool {argv[0]!r} is not on the {side} PATH")
        return [tool] + argv[1:]
    python = sys.executable if side != "caffe" else (shutil.which("python", path=env["PATH"])
                                                    or shutil.which("python3",
                                                                    path=env["PATH"]))
    return [python, program.path]


def run_once(argv, cwd, env, log_path=None):
    """``(wall seconds, CPU seconds)`` of one process (start to exit; CPU: user + system of
    the process and its threads, which other work on a shared machine changes far less than
    the wall time); a failure stops the benchmark with the program's last output."""
    with open(log_path or os.devnull, "wb") as log:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        tail = ""
        if log_path:
            with open(log_path, "rb") as f:
                tail = f.read()[-3000:].decode(errors="replace")
        raise SystemExit(f"{' '.join(argv)} (in {cwd}) exited with {done.returncode}:\n{tail}")
    return seconds, cpu


@contextlib.contextmanager
def load(kind):
    """The background load of bench_contention.py: none, or a busy loop pinned to the last
    CPU at nice -5 (killed when the block ends, and ending by itself at the latest after
    LOAD_BOUND_S)."""
    if kind == "idle":
        yield
        return
    if kind != "pinned":
        raise SystemExit(f"unknown load {kind!r} (idle or pinned)")
    cpus = sorted(os.sched_getaffinity(0))

    def pin():
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # die with us
        except (OSError, AttributeError):
            pass
        os.sched_setaffinity(0, {cpus[-1]})
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    code = (f"import time\nend = time.monotonic() + {LOAD_BOUND_S}\n"
            "while time.monotonic() < end:\n    pass\n")
    child = subprocess.Popen([sys.executable, "-c", code], preexec_fn=pin)
    try:
        time.sleep(SETTLE_S)
        if child.poll() is not None:
            raise SystemExit("the pinned load could not start (nice -5 needs root)")
        yield
    finally:
        child.kill()
        child.wait()


def profile(program, workdir, env):
    """{phase: seconds} of one run of ours (program_phases.py), start-up included."""
    if hasattr(program, "command"):
        return None
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        wall, _ = run_once([sys.executable, PHASES, out, program.path], workdir, env,
                           os.path.join(workdir, "profile.log"))
        with open(out) as f:
            phases = json.load(f)
    finally:
        os.unlink(out)
    seen = phases.pop("_seen")
    phases.pop("_script", None)
    phases["start-up"] = max(0.0, wall - seen)
    phases["_wall"] = wall
    return phases


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--caffe", help="prefix of real Caffe 1.0 (its env.sh)")
    ap.add_argument("--before", help="another checkout of this project (the code before a "
                                     "change), timed as a third runner alternating with ours")
    ap.add_argument("--programs", nargs="*", help="program names (default: all found)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loads", nargs="*", default=["idle"], choices=["idle", "pinned"])
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between processes")
    ap.add_argument("--profile", action="store_true", help="phases of ours, one run each")
    ap.add_argument("--workdir", help="where the programs' data go (default: a temporary "
                                      "folder, removed at the end)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args(argv)
    programs = discover(args.programs)
    if not programs:
        raise SystemExit(f"no programs in {PROGRAMS_DIR}")
    runners = {"ours": our_environment()}
    if args.before:
        runners["before"] = our_environment(os.path.expanduser(args.before))
    if args.caffe:
        runners = {"caffe": caffe_environment(os.path.expanduser(args.caffe)), **runners}
    root = args.workdir or tempfile.mkdtemp(prefix="bench_programs_")
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), "
          f"{_cpu_name()}; load average {os.getloadavg()[0]:.2f}")
    try:
        dirs = {}
        for name, program in programs.items():
            d = os.path.join(root, name)
            os.makedirs(d, exist_ok=True)
            subprocess.run([sys.executable, program.path, "setup", d], check=True,
                           env=our_environment(), cwd=d)
            dirs[name] = d
        times, cpus = {}, {}  # (program, load, runner) -> [wall seconds], [CPU seconds]
        for kind in args.loads:
            with load(kind):
                for r in range(args.rounds):
                    order = list(runners) if r % 2 == 0 else list(runners)[::-1]
                    for name, program in programs.items():
                        for side in order:
                            env = runners[side]
                            time.sleep(args.pause)
                            t, cpu = run_once(argv_for(program, side, env), dirs[name], env,
                                              os.path.join(dirs[name], f"{side}.log"))
                            times.setdefault((name, kind, side), []).append(t)
                            cpus.setdefault((name, kind, side), []).append(cpu)
                            print(f"  [{kind} round {r + 1}] {name} {side}: {t:.2f} s "
                                  f"(CPU {cpu:.2f} s)", flush=True)
        report = _report(programs, args.loads, runners, times, "wall")
        report["cpu"] = _report(programs, args.loads, runners, cpus, "CPU")
        if args.profile:
            report["phases"] = {}
            for name, program in programs.items():
                time.sleep(args.pause)
                phases = profile(program, dirs[name], runners["ours"])
                if phases is not None:
                    report["phases"][name] = phases
            _print_phases(report["phases"])
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


def _report(programs, loads, runners, times, what):
    report = {"programs": {}, "geomean": {}}
    print(f"\nmedian {what} seconds per process")
    head = f"{'program':<28}{'load':<8}" + "".join(f"{s + ' s':>10}" for s in runners)
    if "caffe" in runners:
        head += f"{'ours/Caffe':>12}"
    if "before" in runners:
        head += f"{'ours/before':>14}"
    print(head)
    for kind in loads:
        ratios = []
        for name in programs:
            med = {s: statistics.median(times[(name, kind, s)]) for s in runners}
            line = f"{name:<28}{kind:<8}" + "".join(f"{med[s]:>10.2f}" for s in runners)
            entry = {s: times[(name, kind, s)] for s in runners}
            if "caffe" in runners:
                ratio = med["ours"] / med["caffe"]
                ratios.append(ratio)
                line += f"{ratio:>12.2f}"
                entry["ratio"] = ratio
            if "before" in runners:
                entry["ours_over_before"] = med["ours"] / med["before"]
                line += f"{entry['ours_over_before']:>14.2f}"
            report["programs"].setdefault(name, {})[kind] = entry
            print(line)
        if ratios:
            report["geomean"][kind] = geomean(ratios)
            print(f"{'geometric mean':<28}{kind:<8}" + " " * 10 * len(runners)
                  + f"{geomean(ratios):>12.2f}")
    print(f"(load {os.getloadavg()[0]:.2f} at the end)")
    return report


def _print_phases(phases):
    if not phases:
        return
    print("\nours, seconds per phase (one run, benchmarks/program_phases.py):")
    cols = [p for p in PHASE_ORDER if any(p in v for v in phases.values())]
    print(f"{'program':<28}" + "".join(f"{c:>10}" for c in cols) + f"{'wall':>9}")
    for name, v in phases.items():
        print(f"{name:<28}" + "".join(f"{v.get(c, 0.0):>10.2f}" for c in cols)
              + f"{v['_wall']:>9.2f}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
