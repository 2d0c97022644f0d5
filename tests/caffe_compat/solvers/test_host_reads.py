"""The training loop's host reads of device values (caffe_compat.solvers.host_reads): counted per
iteration, and the same log lines, losses and weights with the reads deferred to the display
iterations (the device mode, run here on the CPU as a stand-in) as with a read per pass."""
import re

import numpy as np
import pytest
import torch

from caffe_compat import get_solver
from caffe_compat.data.caffe_random import LIBC_RAND
from caffe_compat.diagnostics.glog import SolverLog
from caffe_compat.solvers import host_reads
from tests.small_training import make_small

DISPLAY, TEST_INTERVAL, TEST_ITER, MAX_ITER = 4, 5, 2, 13


class ReadCounter:
    """Solver callback noting ``host_reads.reads`` where each iteration starts and where its
    gradients are ready (after its forward-backward passes and its display lines)."""

    def __init__(self):
        self.marks = []            # (iteration, "start" | "ready", reads so far)

    def on_start(self, solver):
        self.marks.append((solver.iter, "start", host_reads.reads))

    def on_gradients_ready(self, solver):
        self.marks.append((solver.iter, "ready", host_reads.reads))

    def per_iteration(self):
        """{iteration: (reads of its passes and display, reads of its update, snapshot and the
        next iteration's test pass)}."""
        out = {}
        for k in range(0, len(self.marks) - 1, 2):
            (it, _, start), (_, _, ready) = self.marks[k], self.marks[k + 1]
            after = self.marks[k + 2][2] if k + 2 < len(self.marks) else None
            out[it] = (ready - start, None if after is None else after - ready)
        return out


def run(folder, monkeypatch, defer, iter_size=1, average_loss=3, base_lr=None,
        test_loss=False):
    monkeypatch.chdir(folder)
    log = SolverLog(keep=True)
    LIBC_RAND.seed(1)       # as the first solver of a process (HDF5Data's shuffle draws)
    solver = get_solver("solver.prototxt", log=log)
    solver.param.display = DISPLAY
    solver.param.average_loss = average_loss
    solver.param.iter_size = iter_size
    solver.param.max_iter = MAX_ITER
    solver.param.test_compute_loss = test_loss
    if base_lr is not None:
        solver.param.base_lr = base_lr
    solver.defer_host_reads = defer
    counter = ReadCounter()
    solver.add_callback(counter)
    solver.solve()
    return solver, log, counter


def messages(log):
    """The log messages, the display line's rate and lapse (timing) taken out."""
    return [re.sub(r"\([^)]* iter/s, [^)]*\)", "(rate)", line.split("] ", 1)[1])
            for line in log.lines]


@pytest.fixture()
def folder(tmp_path):
    return make_small(tmp_path, solver_type="SGD", extra="", max_iter=MAX_ITER,
                      test_interval=TEST_INTERVAL)


@pytest.mark.parametrize("iter_size,test_loss", [(1, False), (2, True)])
def test_deferred_reads_keep_the_logs_losses_and_weights(folder, monkeypatch, iter_size,
                                                         test_loss):
    plain, plain_log, _ = run(folder, monkeypatch, False, iter_size, test_loss=test_loss)
    deferred, deferred_log, _ = run(folder, monkeypatch, True, iter_size, test_loss=test_loss)
    assert messages(deferred_log) == messages(plain_log)
    assert sum(m.startswith("Test loss: ") for m in messages(plain_log)) == \
        (3 if test_loss else 0)                              # iterations 0, 5, 10
    assert sum("), loss = " in m for m in messages(plain_log)) == 4   # iterations 0, 4, 8, 12
    # the same float32 values, bit for bit (the same arithmetic on the same losses)
    assert deferred.smoothed_loss.tobytes() == plain.smoothed_loss.tobytes()
    assert deferred.last_loss.tobytes() == plain.last_loss.tobytes()
    for a, b in zip(plain.net.learnable, deferred.net.learnable):
        assert torch.equal(a.param, b.param)


def test_reads_per_iteration(folder, monkeypatch):
    """Deferred: no read between the display iterations, one at each (the window's losses and
    the output blobs together), one per test pass (its sums). Otherwise a read per pass, per
    display output blob and per test batch's outputs and loss (on the CPU a read is a
    copy)."""
    outputs = 1                                   # the train net's one output blob (loss)
    for defer in (True, False):
        _, _, counter = run(folder, monkeypatch, defer)
        counts = counter.per_iteration()
        assert sorted(counts) == list(range(MAX_ITER))
        for it, (passes, after) in counts.items():
            display = it % DISPLAY == 0
            want = (1 if display else 0) if defer else 1 + (outputs if display else 0)
            assert passes == want, (defer, it)
            if after is not None:
                tested = (it + 1) % TEST_INTERVAL == 0
                want = (1 if defer else 2 * TEST_ITER) if tested else 0
                assert after == want, (defer, it)


def test_a_nan_loss_trains_on_as_caffe(folder, monkeypatch):
    """Caffe's solver has no NaN check: a diverging run trains to max_iter and shows
    ``loss = nan``, with the reads deferred or not."""
    plain, plain_log, _ = run(folder, monkeypatch, False, base_lr=1e30)
    deferred, deferred_log, _ = run(folder, monkeypatch, True, base_lr=1e30)
    assert plain.iter == deferred.iter == MAX_ITER
    assert np.isnan(plain.smoothed_loss) and np.isnan(deferred.smoothed_loss)
    assert messages(deferred_log) == messages(plain_log)
    assert any(m.endswith("loss = nan") for m in messages(plain_log))


def test_reading_the_loss_between_displays_reads_the_kept_losses(folder, monkeypatch):
    monkeypatch.chdir(folder)
    LIBC_RAND.seed(1)
    plain = get_solver("solver.prototxt", log=SolverLog(keep=True))
    LIBC_RAND.seed(1)       # the same shuffles: each solver as the first of a process
    deferred = get_solver("solver.prototxt", log=SolverLog(keep=True))
    deferred.defer_host_reads = True
    drawn = LIBC_RAND.state()     # each solver's epochs draw as if it ran alone
    for solver in (plain, deferred):
        solver.param.display = 100
        LIBC_RAND.set_state(drawn)
        solver.step(3)
    before = host_reads.reads
    assert deferred.last_loss.tobytes() == plain.last_loss.tobytes()
    assert host_reads.reads == before + 1            # the three kept losses in one read
    assert deferred.smoothed_loss.tobytes() == plain.smoothed_loss.tobytes()
    assert host_reads.reads == before + 1


def test_without_display_the_kept_losses_are_bounded(folder, monkeypatch):
    from caffe_compat.solvers import deferred_losses
    monkeypatch.setattr(deferred_losses, "KEEP_AT_MOST", 4)
    monkeypatch.chdir(folder)
    LIBC_RAND.seed(1)
    plain = get_solver("solver.prototxt", log=SolverLog(keep=True))
    LIBC_RAND.seed(1)       # the same shuffles: each solver as the first of a process
    deferred = get_solver("solver.prototxt", log=SolverLog(keep=True))
    deferred.defer_host_reads = True
    for solver in (plain, deferred):
        solver.param.display = 0
        solver.param.test_interval = 0
        solver.param.average_loss = 3
    drawn = LIBC_RAND.state()     # each solver's epochs draw as if it ran alone
    plain.step(10)
    before = host_reads.reads
    LIBC_RAND.set_state(drawn)
    deferred.step(10)
    assert host_reads.reads - before == 2              # after iterations 3 and 7
    assert len(deferred._pending) == 2
    assert deferred.smoothed_loss.tobytes() == plain.smoothed_loss.tobytes()
