"""Ctrl-C in ``caffe-compat train ... 2>&1 | tee log``, Caffe's usual idiom.

The terminal sends SIGINT to the whole foreground process group: ``tee`` ends at once, so the
trainer's log lines go into a pipe without a reader. Caffe 1.0 (``caffe train`` in the same
pipe, measured with BVLC Caffe at 9b89154: exit status 0 and ``snap_iter_N.caffemodel`` and
``.solverstate`` written) stops at the end of the iteration, writes the snapshot
(``snapshot_after_train``) and exits 0. Here the pipe is a real one, its reader is a real
``tee`` in the trainer's process group, and the signal goes to the group as a terminal's does.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from caffe_compat.io.caffemodel import read_caffemodel
from caffe_compat.io.solverstate import read_solverstate
from tests.conftest import REPO
from tests.small_training import make_small

pytestmark = pytest.mark.skipif(shutil.which("tee") is None or not hasattr(os, "killpg"),
                                reason="needs POSIX process groups and tee")


def _wait_in_file(path, text, proc, timeout=120):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return True
        time.sleep(0.05)
    return False


def _foreground():
    """SIGINT's default action, as a terminal's foreground job has it: a test run started as
    a background job of a non-interactive shell (``pytest &``) passes SIGINT on ignored, and
    ``tee`` would then outlive the Ctrl-C it stands for."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _train_into_tee(folder, *flags):
    """``caffe-compat train ... 2>&1 | tee tee.log``, both in a new process group, as a
    terminal's foreground job."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    train = subprocess.Popen([sys.executable, "-m", "caffe_compat.cli", "train", "-solver",
                              "solver.prototxt", "-iterations", "100000", "--log", "full.log",
                              *flags], cwd=folder, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, process_group=0,
                             preexec_fn=_foreground)
    tee = subprocess.Popen(["tee", "tee.log"], cwd=folder, stdin=train.stdout,
                           stdout=subprocess.DEVNULL, process_group=train.pid,
                           preexec_fn=_foreground)
    train.stdout.close()             # tee holds the only reading end
    return train, tee


def test_ctrl_c_into_tee_writes_the_snapshot(tmp_path):
    folder = make_small(tmp_path)
    train, tee = _train_into_tee(folder)
    try:
        assert _wait_in_file(os.path.join(folder, "tee.log"), "Iteration 3 (", train), \
            open(os.path.join(folder, "full.log")).read()
        os.killpg(train.pid, signal.SIGINT)
        assert tee.wait(60) == -signal.SIGINT          # the pipe has no reader now
        status = train.wait(120)
    finally:
        for proc in (train, tee):
            if proc.poll() is None:
                proc.kill()
    log = open(os.path.join(folder, "full.log")).read()
    assert status == 0, log[-3000:]
    assert "Optimization stopped early." in log and "Optimization Done." in log, log[-3000:]
    snaps = os.listdir(os.path.join(folder, "snap"))
    states = [f for f in snaps if f.endswith(".solverstate")]
    assert len(states) == 1, snaps                     # the stop's snapshot (snapshot: 0)
    assert not any(".tmp-" in f for f in snaps), snaps
    state = read_solverstate(os.path.join(folder, "snap", states[0]))
    assert read_caffemodel(os.path.join(folder, state.learned_net)).layer
    assert f"Snapshotting solver state to binary proto file snap/{states[0]}" in log
    assert state.iter >= 3 and f"_iter_{state.iter}." in states[0]
