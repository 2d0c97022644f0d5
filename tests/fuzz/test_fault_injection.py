"""Fault injection: kill the writers (SIGKILL, SIGINT) at random points, then check that

* no output file is partial: every output present after the kill is complete and equal to the
  one an uninterrupted run writes (HDF5 datasets and MAT variables compared by value, the rest
  byte for byte). Leftover temporary files (``.<name>.tmp-*``, generate_h5's
  ``.<name>.generate_h5-*`` work folder) are allowed and counted;
* a rerun completes and leaves exactly the uninterrupted run's outputs;
* training resumed from the last snapshot (``-snapshot X.solverstate``) ends with the same
  weights and solver state as an uninterrupted run, byte for byte (CPU).

Kill points: half are timed (a random fraction of the command's uninterrupted run time), half
are placed on file events (the n-th file opened for writing / renamed / removed, n random),
which lands kills right inside the atomic write-and-rename. The commands run in a fork server
(:mod:`tests.fuzz.zygote`) so that a trial costs a fork, not an interpreter start.

CI runs a few kills per command; ``FUZZ_PROFILE=nightly`` runs more (see KILLS).
"""
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tests.conftest import REPO
from tests.fuzz import harness
from tests.small_training import make_small

# kills per command: (timed, on file events)
_DATA = ("sample", "prepare_dataset", "prepare_h5_files", "generate_h5", "generate_train",
         "generate_test")
KILLS = {"ci": dict({"train": (12, 12)}, **{c: (3, 3) for c in _DATA}),
         "nightly": dict({"train": (40, 40)}, **{c: (15, 15) for c in _DATA})}[
    harness.PROFILE_NAME]
SEED = int(os.environ.get("FUZZ_SEED", "20170707")) if harness.PROFILE_NAME != "ci" else 20170707
TRAIN_ITERS, TRAIN_SNAPSHOT = 24, 4

harness.FAULT_STATS = {}


# --------------------------------------------------------------------------------------------
# The fork server

class Zygote:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.zygote"], cwd=str(REPO),
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self._read(300).get("ready")

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"fork server silent for {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fork server died")
        return json.loads(line)

    def start(self, module, argv, cwd, log, kill_at=None, nonatomic=False):
        req = {"module": module, "argv": list(argv), "cwd": str(cwd), "log": str(log),
               "kill_at": kill_at, "nonatomic": nonatomic}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read(60)["pid"]

    def wait(self, pid, timeout=300):
        try:
            return self._read(timeout)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise

    def run(self, module, argv, cwd, log, kill_at=None, nonatomic=False):
        return self.wait(self.start(module, argv, cwd, log, kill_at, nonatomic))

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


# --------------------------------------------------------------------------------------------
# Commands, inputs and reference outputs

def _bmps(folder):
    import cv2
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        img = (rng.random((72 + 8 * i, 80, 3)) * 255).astype(np.uint8)
        cv2.imwrite(os.path.join(folder, f"img{i}.bmp"), cv2.GaussianBlur(img, (7, 7), 2))


def _commands(base):
    s, m, b = os.path.join(base, "ref", "sample"), os.path.join(base, "ref",
                                                                "prepare_dataset"), \
        os.path.join(base, "bmp")
    return {
        "sample": ("reproduction.sample", lambda out: ["--out", out, "--train", "1", "--dev",
                                                       "1", "--frames", "40", "--quiet"]),
        "prepare_dataset": ("matlab_ports.prepare_dataset", lambda out: [
            "--avec", s, "--out", out, "--sequences", "train_1,dev_1", "--quiet"]),
        "prepare_h5_files": ("matlab_ports.prepare_h5_files", lambda out: [
            "--data", m, "--out", out, "--train", "train_1", "--test", "dev_1", "--chunk",
            "16", "--quiet"]),
        "generate_h5": ("matlab_ports.generate_h5", lambda out: [
            "--save", os.path.join(out, "x"), os.path.join(m, "train_1.mat"),
            os.path.join(m, "dev_1.mat"), "--chunk", "16", "--quiet"]),
        "generate_train": ("matlab_ports.generate_train", lambda out: [
            "--folder", b, "--out", os.path.join(out, "train.h5"), "--scale", "3",
            "--stride", "14", "--chunk", "8", "--quiet"]),
        "generate_test": ("matlab_ports.generate_test", lambda out: [
            "--folder", b, "--out", os.path.join(out, "test.h5"), "--scale", "3",
            "--quiet"]),
        "train": ("caffe_compat.cli", lambda out: ["train", "-solver", "solver.prototxt"]),
    }


ORDER = ["sample", "prepare_dataset", "prepare_h5_files", "generate_h5", "generate_train",
         "generate_test", "train"]


def _fresh_out(base, name):
    out = os.path.join(base, "out", name)
    shutil.rmtree(out, ignore_errors=True)
    if name == "train":
        make_small(out, max_iter=TRAIN_ITERS, snapshot=TRAIN_SNAPSHOT, prefix="run")
    else:
        os.makedirs(out)
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, zygote):
    """Reference outputs of every command (uninterrupted runs), with their run time and file
    event count. Outputs are always written to base/out/<command> (list files hold absolute
    paths), references copied to base/ref/<command>."""
    base = str(tmp_path_factory.mktemp("faults"))
    _bmps(os.path.join(base, "bmp"))
    cmds = _commands(base)
    info = {}
    for name in ORDER:
        module, argv = cmds[name]
        out = _fresh_out(base, name)
        log = os.path.join(base, f"{name}.ref.log")
        t0 = time.monotonic()
        st = zygote.run(module, argv(out), out, log)
        seconds = time.monotonic() - t0
        assert st["exit"] == 0, f"{name} failed:\n{open(log).read()[-3000:]}"
        ref = os.path.join(base, "ref", name)
        shutil.copytree(out, ref)
        info[name] = {"seconds": seconds, "events": st["events"], "module": module,
                      "argv": argv, "out": out, "ref": ref}
        _stats(name).update(ref_seconds=round(seconds, 3), ref_events=st["events"])
    return base, info


# --------------------------------------------------------------------------------------------
# Checking outputs

def _is_temp(rel):
    return any(part.startswith(".") for part in rel.split(os.sep))


def _files(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), folder))
    return sorted(out)


def _same_h5(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if names_a != names_b:
            return False
        for n in names_a:
            if isinstance(fa[n], h5py.Dataset):
                x, y = fa[n][()], fb[n][()]
                if x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
                    return False
    return True


def _same_mat(a, b):
    from matlab_ports.matfile import loadmat
    x, y = loadmat(a), loadmat(b)
    return x.keys() == y.keys() and all(
        np.asarray(x[k]).dtype == np.asarray(y[k]).dtype and
        np.array_equal(np.asarray(x[k]), np.asarray(y[k]), equal_nan=True) for k in x)


def same_file(path, ref):
    """``path`` holds what ``ref`` holds (complete and valid); False for a damaged file."""
    try:
        if path.endswith(".h5"):
            return _same_h5(path, ref)
        if path.endswith(".mat"):
            return _same_mat(path, ref)
    except Exception:  # noqa: BLE001 - a partial file does not even open
        return False
    with open(path, "rb") as f, open(ref, "rb") as g:
        return f.read() == g.read()


def valid_extra_snapshot(path):
    """A snapshot the reference run did not write (SIGINT's final one): it must load."""
    from caffe_compat.io.caffemodel import layer_blobs, read_caffemodel
    from caffe_compat.io.solverstate import history_arrays, read_solverstate
    try:
        if path.endswith(".caffemodel"):
            layer_blobs(read_caffemodel(path))
        elif path.endswith(".solverstate"):
            history_arrays(read_solverstate(path))
        elif path.endswith(".json"):
            with open(path) as f:
                json.load(f)
        else:
            return False
    except Exception:  # noqa: BLE001
        return False
    return True


def check_outputs(out, ref, allow_extra_snapshots=False):
    """(partial files, leftover temp files, missing files) of ``out`` against ``ref``."""
    partial, temps = [], []
    ref_files = set(_files(ref))
    for rel in _files(out):
        if _is_temp(rel):
            temps.append(rel)
            continue
        path = os.path.join(out, rel)
        if rel in ref_files:
            if not same_file(path, os.path.join(ref, rel)):
                partial.append(rel)
        elif rel.endswith(".log") or rel.endswith(".events"):
            continue
        elif not (allow_extra_snapshots and valid_extra_snapshot(path)):
            partial.append(rel)
    missing = sorted(r for r in ref_files if not os.path.exists(os.path.join(out, r)))
    return partial, temps, missing


# --------------------------------------------------------------------------------------------
# Trials

def _stats(name):
    return harness.FAULT_STATS.setdefault(name, {
        "kills": 0, "SIGKILL": 0, "SIGINT": 0, "not_killed": 0, "partial": 0, "temp_left": 0,
        "reruns_ok": 0, "mismatches": 0, "resumed_from": []})


def _latest_state(snap):
    states = [f for f in os.listdir(snap) if f.endswith(".solverstate") and not f.startswith(".")]
    if not states:
        return None
    return os.path.join("snap", max(states, key=lambda f: int(f.split("_iter_")[1]
                                                                .split(".")[0])))


def _trial(zygote, base, name, info, kind, sig, where):
    stats = _stats(name)
    out = _fresh_out(base, name)
    log = os.path.join(base, f"{name}.trial.log")
    argv = info["argv"](out)
    if kind == "time":
        pid = zygote.start(info["module"], argv, out, log)
        time.sleep(where)
        try:
            os.kill(pid, getattr(signal, sig))
        except ProcessLookupError:
            pass
        st = zygote.wait(pid)
    else:
        st = zygote.run(info["module"], argv, out, log,
                        kill_at={"events": ["open_w", "rename", "remove"], "n": where,
                                 "signal": sig})
    with open(log, errors="replace") as f:
        text = f.read()
    if sig == "SIGKILL":
        interrupted = st["signal"] == signal.SIGKILL
    else:   # Python's KeyboardInterrupt (exit 130 here), or training's own SIGINT stop
        interrupted = st["exit"] in (1, 130) and "KeyboardInterrupt" in text or \
            "stopped early" in text or st["exit"] == 130
    assert interrupted or (st["exit"] == 0 and st["signal"] is None), (
        f"{name} failed by itself ({st}):\n{text[-3000:]}")
    if interrupted:
        stats["kills"] += 1
        stats[sig] += 1
    else:
        stats["not_killed"] += 1
    assert "Traceback" not in text or sig == "SIGINT" or st["signal"], text[-3000:]
    partial, temps, _ = check_outputs(out, info["ref"], allow_extra_snapshots=name == "train")
    stats["partial"] += len(partial)
    stats["temp_left"] += len(temps)
    assert not partial, f"{name} killed ({kind} {sig} at {where}): partial files {partial}"

    # rerun (training: resume from the newest snapshot) and compare with the reference
    argv2 = list(argv)
    if name == "train":
        state = _latest_state(os.path.join(out, "snap"))
        if state:
            argv2 += ["-snapshot", state]
            stats["resumed_from"].append(state.rsplit("_iter_", 1)[1].split(".")[0])
    st2 = zygote.run(info["module"], argv2, out, log)
    with open(log, errors="replace") as f:
        text2 = f.read()
    assert st2["exit"] == 0, f"{name}: rerun after {kind} {sig} at {where} failed:\n" \
                             f"{text2[-3000:]}"
    stats["reruns_ok"] += 1
    partial, temps, missing = check_outputs(out, info["ref"],
                                            allow_extra_snapshots=name == "train")
    if partial or missing:
        stats["mismatches"] += 1
    assert not partial and not missing, (
        f"{name}: after {kind} {sig} at {where:.3g} and a rerun: differing {partial}, missing "
        f"{missing}")
    return interrupted


@pytest.mark.parametrize("name", ORDER)
def test_kill_and_rerun(name, zygote, pipeline):
    """KILLS[name] kills that land (a timed kill after a fast run ended is retried with a new
    random time), alternating SIGKILL and SIGINT."""
    base, info = pipeline
    cmd = info[name]
    rng = random.Random(f"{SEED}-{name}")
    for kind, target in zip(("time", "event"), KILLS[name]):
        landed = attempts = 0
        while landed < target and attempts < 5 * target + 2:
            sig = "SIGKILL" if _stats(name)["kills"] % 2 == 0 else "SIGINT"
            if kind == "time":
                where = rng.uniform(0.02, 0.98) * cmd["seconds"]
            else:
                where = rng.randint(1, max(1, cmd["events"]))
            landed += _trial(zygote, base, name, cmd, kind, sig, where)
            attempts += 1
        assert landed == target, f"{name}: only {landed} of {target} {kind} kills landed"


def test_training_resume_is_bit_identical_after_sigint_at_every_snapshot_interval(zygote,
                                                                                  pipeline):
    """Deterministic complement to the random kills: SIGINT on the first file event after each
    snapshot boundary, resume, compare the final weights with the uninterrupted run."""
    base, info = pipeline
    train = info["train"]
    for n in range(1, train["events"], max(1, train["events"] // 4)):
        _trial(zygote, base, "train", train, "event", "SIGINT", n)


def test_the_checks_catch_a_non_atomic_writer(zygote, pipeline):
    """The harness's own test: with the atomic writers replaced by in-place writes, a SIGKILL
    in the middle of writing a snapshot file leaves a partial file, and check_outputs says
    so (for the sidecar, the caffemodel and the solverstate in turn)."""
    base, info = pipeline
    train = info["train"]
    log = os.path.join(base, "train.nonatomic.log")
    found = []
    for n in range(1, 4):
        out = _fresh_out(base, "train")
        st = zygote.run(train["module"], train["argv"](out), out, log,
                        kill_at={"events": ["midwrite"], "n": n, "signal": "SIGKILL"},
                        nonatomic=True)
        if st["signal"] == signal.SIGKILL:
            partial, _, _ = check_outputs(out, train["ref"], allow_extra_snapshots=True)
            found += partial
    assert {os.path.splitext(p)[1] for p in found} == {".caffemodel", ".solverstate", ".json"}, \
        found
