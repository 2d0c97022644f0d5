"""The parked team of caffe_compat.kernels._exact_gemm (_team_pool.h): the workers stay between
calls, a job's bits do not depend on who takes its units, two callers at once both finish, and
a forked child starts its own team."""
import os
import threading
import time

import numpy as np

import pytest
import torch

from caffe_compat.kernels import blas_order

pytestmark = pytest.mark.skipif(not blas_order.available(),
                                reason="the _exact_gemm extension is not built")

if blas_order.available():
    from caffe_compat.kernels import _exact_gemm


def conv(x, w, nthreads):
    """blas_order.conv2d's call with a given thread count."""
    y = torch.empty(x.shape[0], w.shape[0], x.shape[2], x.shape[3])
    _exact_gemm.conv2d(x.numpy(), w.numpy(), y.numpy(), 1, 1, 1, 1, 1, 1, 1, True, nthreads)
    return y


def operands(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 32, 30, 40, generator=g), torch.randn(48, 32, 3, 3, generator=g)


def team_ids(at_least):
    """The team's thread ids once at least that many have started (a caller does not wait for
    its workers to arrive)."""
    deadline = time.monotonic() + 10
    while len(_exact_gemm.team_thread_ids()) < at_least and time.monotonic() < deadline:
        time.sleep(0.001)
    return sorted(_exact_gemm.team_thread_ids())


def test_the_team_stays_and_gives_the_same_bits():
    x, w = operands()
    expected = conv(x, w, 1)
    conv(x, w, 4)
    team = team_ids(3)
    assert len(team) >= 3                          # three workers beside this thread
    torch.equal(expected, expected)                # torch's own threads started before counting
    threads_before = len(os.listdir("/proc/self/task"))
    for n in (2, 3, 4, 2, 4) * 4:
        assert torch.equal(conv(x, w, n), expected)
    assert sorted(_exact_gemm.team_thread_ids()) == team      # the same threads, reused
    assert len(os.listdir("/proc/self/task")) == threads_before


def test_two_callers_at_once_both_finish_with_the_same_bits():
    """A second caller while the team works for the first starts threads of its own."""
    x, w = operands(1)
    expected = conv(x, w, 1)
    results, errors = [], []

    def caller():
        try:
            for _ in range(20):
                results.append(torch.equal(conv(x, w, 2), expected))
        except Exception as e:          # pragma: no cover - reported below
            errors.append(e)
    callers = [threading.Thread(target=caller) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in callers)
    assert len(results) == 60 and all(results)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_starts_its_own_team():
    x, w = operands(2)
    expected = conv(x, w, 1)
    conv(x, w, 2)                                  # the parent's team exists
    parent_team = set(team_ids(1))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: the parent's workers are gone
        ok = 0
        try:
            # numpy compares: torch's OpenMP pool is not usable in a forked child
            ok = int(np.array_equal(conv(x, w, 2).numpy(), expected.numpy())
                     and len(team_ids(1)) >= 1 and parent_team.isdisjoint(team_ids(1)))
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    try:
        got = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert got == b"\x01"


@pytest.mark.parametrize("spin", ["0", "not-a-number"])
def test_the_watch_before_sleeping_is_a_setting(spin):
    """CAFFE_COMPAT_KERNEL_SPIN_US changes how long workers watch, never the bits (a value
    that is not a number keeps the default)."""
    import subprocess
    import sys
    code = ("import torch, sys\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from tests.caffe_compat.kernels.test_team_pool import conv, operands\n"
            "x, w = operands(3)\n"
            "expected = conv(x, w, 1)\n"
            "print(all(torch.equal(conv(x, w, n), expected) for n in (2, 3, 2, 4) * 5))\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    done = subprocess.run([sys.executable, "-c", code, repo], capture_output=True, text=True,
                          env=dict(os.environ, CAFFE_COMPAT_KERNEL_SPIN_US=spin,
                                   PYTHONPATH=repo), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
