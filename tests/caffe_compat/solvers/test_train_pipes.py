"""``caffe-compat train`` whose output goes into a pipe (``| tee log``, ``| head``).

Ctrl-C in ``caffe-compat train ... 2>&1 | tee log`` ends ``tee`` too, and the line naming the
snapshot goes into a pipe without a reader (tests/caffe_compat/solvers/test_sigint_pipe.py
checks the snapshot itself). So when stdout or stderr is a pipe, the command says before
training what Ctrl-C writes and where, and after a stop by a signal it writes the snapshot's
path on stdout as well as stderr. A pipe whose reader is gone while no signal came (``tee``
killed, ``| head`` done) stops the training as Caffe's SIGINT does: the snapshot, then one
line saying why, exit status 141 (as a process ended by SIGPIPE). Each case trains the
quickstart net (examples/quickstart) in a child process, on a solver of many iterations.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")

SOLVER = """net: "examples/quickstart/train_val.prototxt"
test_iter: 2
test_interval: 100000000
base_lr: 0.05
momentum: 0.9
lr_policy: "fixed"
display: 1
max_iter: 100000000
snapshot_prefix: "snap/q"
solver_mode: CPU
random_seed: 1
"""
# a child that imports the engine and trains: seconds; a stop after a lost reader: at most an
# iteration and a snapshot
TIMEOUT = 120


def _folder(tmp_path):
    shutil.copytree(REPO / "examples" / "quickstart", tmp_path / "examples" / "quickstart")
    (tmp_path / "snap").mkdir()
    (tmp_path / "solver.prototxt").write_text(SOLVER)
    return tmp_path


def _spawn(folder, stdout, stderr):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "caffe_compat.cli", "train",
                             "--solver=solver.prototxt", "--log", "full.log", "--no-progress"],
                            cwd=folder, env=env, stdout=stdout, stderr=stderr, text=True)


def _read_until(stream, pattern, lines, timeout=TIMEOUT):
    end = time.time() + timeout
    while time.time() < end:
        line = stream.readline()
        if not line:
            return False
        lines.append(line)
        if re.search(pattern, line):
            return True
    return False


def _snapshots(folder):
    return sorted(f for f in os.listdir(folder / "snap") if f.endswith(".solverstate"))


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_dead_reader_of_both_streams_stops_after_a_snapshot(tmp_path):
    """``2>&1 | tee``, tee gone: no line can reach anyone, and the training used to go on
    alone to max_iter. It stops with a snapshot; the reason goes to the --log file."""
    folder = _folder(tmp_path)
    proc = _spawn(folder, subprocess.PIPE, subprocess.STDOUT)
    lines = []
    try:
        assert _read_until(proc.stdout, r"Iteration 3 \(", lines), "".join(lines)
        proc.stdout.close()                       # the reader dies
        status = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("the training went on after its log's reader was gone")
    finally:
        _stop(proc)
    log = (folder / "full.log").read_text()
    assert status == 141, log[-2000:]
    (state,) = _snapshots(folder)
    assert "Optimization stopped early." in log, log[-2000:]
    assert re.search(r"reader .* gone", log) and f"snap/{state}" in log, log[-2000:]


def test_a_dead_stdout_reader_is_named_on_stderr(tmp_path):
    """``| head``: stdout's reader gone, stderr the terminal (here a pipe still read). The
    hint comes before the training, the reason and the snapshot's path after it, on stderr."""
    folder = _folder(tmp_path)
    proc = _spawn(folder, subprocess.PIPE, subprocess.PIPE)
    try:
        proc.stdout.close()                       # before the first iteration
        proc.stdout = None
        _, text = proc.communicate(timeout=TIMEOUT)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        pytest.fail("the training went on after stdout's reader was gone")
    finally:
        _stop(proc)
    rest = text
    hint = text.index("Ctrl-C")
    assert hint < text.index("Starting Optimization"), text
    assert "snap/q_iter_<N>.caffemodel" in text[hint:hint + 400], text
    assert status == 141, text[-2000:]
    (state,) = _snapshots(folder)
    tail = rest.strip().splitlines()[-1]
    assert re.search(r"reader .* gone", tail) and f"snap/{state}" in tail, tail


def test_ctrl_c_names_the_snapshot_on_stdout_and_stderr(tmp_path):
    """``| tee`` without ``2>&1``: stdout is the pipe, stderr the terminal; after Ctrl-C both
    get the line naming the snapshot (exit status 0, as Caffe's)."""
    folder = _folder(tmp_path)
    proc = _spawn(folder, subprocess.PIPE, subprocess.PIPE)
    lines = []
    try:
        assert _read_until(proc.stderr, r"Iteration 3 \(", lines), "".join(lines)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=TIMEOUT)
    finally:
        _stop(proc)
    err = "".join(lines) + rest
    assert proc.returncode == 0, err[-2000:]
    (state,) = _snapshots(folder)
    for stream in (out, err):
        last = stream.strip().splitlines()[-1]
        assert "SIGINT" in last and f"snap/{state}" in last, (out, err[-2000:])
