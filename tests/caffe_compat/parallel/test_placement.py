"""A pass's threads one per CPU while niced work shares our cores
(caffe_compat.parallel.placement): who is pinned where, for how long, what inherits it, and
that the results are the same bits."""
import os
import threading
import time

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.kernels import blas_order
from caffe_compat.parallel import core_monitor, pass_choice, placement, threads

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two = pytest.mark.skipif(
    len(ALLOWED) < 2 or not placement.enabled() or not placement._runtime(),
    reason="placement needs Linux, two CPUs allowed and torch on an OpenMP runtime")


@pytest.fixture
def two_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield
    finally:
        placement.release_workers()
        torch.set_num_threads(saved)


def mask(tid=0):
    return sorted(os.sched_getaffinity(tid))


def test_enabled_follows_the_switch_and_the_programs_own_placement():
    assert not placement.enabled({"CAFFE_COMPAT_PLACEMENT": "0"})
    assert not placement.enabled({"CAFFE_COMPAT_PLACEMENT": "off"})
    for name in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"):
        assert not placement.enabled({name: "true"})       # the program places them itself
    assert placement.enabled({}) == hasattr(os, "sched_setaffinity")


@needs_two
def test_a_placed_pass_runs_one_thread_per_cpu(two_threads):
    with placement.spread(2):
        main = mask()
        workers = dict(placement._state["workers"])
        assert len(main) == 1
        assert len(workers) == 1
        (tid, cpu), = workers.items()
        assert mask(tid) == [cpu] and cpu != main[0]
        # the process's CPUs are still what the core monitor reads
        assert placement.process_cpus() == ALLOWED
        assert core_monitor.affinity() == ALLOWED
        x = torch.randn(256, 256)
        torch.mm(x, x)                       # an OpenMP region on the placed team
        assert mask(tid) == [cpu]
    # the program's own work after the pass: the main thread on every CPU again, the worker
    # still placed for the next pass
    assert mask() == ALLOWED
    assert placement.workers_placed()
    with placement.spread(2):                 # the next pass: the same placement
        assert mask() == main and placement._state["workers"] == workers
    placement.release_workers()
    assert mask(tid) == ALLOWED and not placement.workers_placed()


@needs_two
def test_a_pass_without_niced_work_releases_the_workers(two_threads):
    with placement.spread(2):
        (tid, _), = placement._state["workers"].items()
    with placement.spread(0):
        assert mask() == ALLOWED
    assert mask(tid) == ALLOWED and not placement.workers_placed()


@needs_two
def test_nested_passes_keep_the_outer_placement(two_threads):
    with placement.spread(2):
        outer = mask()
        with placement.spread(2):             # a test net's forward inside an iteration
            assert mask() == outer
        with placement.spread(0):
            assert mask() == outer and placement.workers_placed()
        placement.release_workers()           # not while the pass runs
        assert placement.workers_placed()
        assert mask() == outer
    assert mask() == ALLOWED


@needs_two
def test_more_threads_than_cpus_are_not_placed(two_threads):
    torch.set_num_threads(len(ALLOWED) + 1)
    with placement.spread(len(ALLOWED) + 1):
        assert mask() == ALLOWED and not placement.workers_placed()


@needs_two
def test_threads_started_in_a_placed_pass_get_the_process_cpus(two_threads):
    seen = {}

    def body():
        seen["inherited"] = mask()
        placement.widen_current_thread()
        seen["widened"] = mask()
    with placement.spread(2):
        t = threading.Thread(target=body)
        t.start()
        t.join()
    assert len(seen["inherited"]) == 1        # what a new thread inherits from the main one
    assert seen["widened"] == ALLOWED


@needs_two
@pytest.mark.skipif(not blas_order.available(), reason="the compiled kernels are not built")
def test_the_kernels_teams_run_on_the_process_cpus(two_threads):
    """A compiled kernel's team working for the pinned main thread runs on the process's CPUs
    (set_team_cpus): its parked workers move there when they join a job, and a thread started
    for the call (the team busy) is created there; seen from a thread that watches /proc while
    a convolution runs."""
    from caffe_compat.kernels import _exact_gemm
    before = set(os.listdir("/proc/self/task"))
    masks, stop = {}, threading.Event()

    def watch():
        while not stop.is_set():
            for tid in set(os.listdir("/proc/self/task")) - before:
                try:
                    # the last reading counts: a new thread runs on its creator's CPU
                    # until the mask it was created with is applied
                    masks[int(tid)] = mask(int(tid))
                except OSError:
                    pass
            time.sleep(0.0005)
    watcher = threading.Thread(target=watch)
    watcher.start()
    before.add(str(watcher.native_id))
    x = torch.randn(8, 64, 96, 96)
    w = torch.randn(64, 64, 3, 3)
    try:
        with placement.spread(2):
            for _ in range(3):
                blas_order.conv2d(x, w, (1, 1), (1, 1), (1, 1), 1)
            parked = {tid: mask(tid) for tid in _exact_gemm.team_thread_ids()}
    finally:
        stop.set()
        watcher.join()
    workers = set(placement._state["workers"])
    team = {tid: m for tid, m in masks.items() if tid not in workers}
    team.update(parked)
    assert team, "no kernel thread was seen"
    assert all(m == ALLOWED for m in team.values()), team


def _niced_net():
    return Net("""input: "data" input_shape { dim: 2 dim: 3 dim: 32 dim: 32 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 64 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }""", phase="test", seed=1)


@needs_two
def test_net_forward_under_niced_work_is_placed_with_the_same_bits(two_threads, monkeypatch):
    net = _niced_net()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 32, 32), np.float32))
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    with torch.inference_mode():
        expected = net.forward(data=x, keep_blobs=False)["conv"].clone()
        monkeypatch.setattr(threads, "niced_neighbours", lambda: 0.9)
        placed = set()
        for _ in range(4 * (pass_choice.TRIAL_PASSES + 1)):
            assert torch.equal(net.forward(data=x, keep_blobs=False)["conv"], expected)
            placed.add(placement.workers_placed())
            assert mask() == ALLOWED             # the main thread's CPUs back after each pass
        assert True in placed                    # the two-thread passes were placed
        monkeypatch.setattr(threads, "niced_neighbours", lambda: 0.0)
        assert torch.equal(net.forward(data=x, keep_blobs=False)["conv"], expected)
        assert not placement.workers_placed()    # the neighbour gone: the workers released


@needs_two
def test_a_runtime_that_does_not_place_turns_placement_off(two_threads, monkeypatch):
    monkeypatch.setitem(placement._state, "runtime", placement._state["runtime"])
    monkeypatch.setattr(placement, "_place_workers", lambda n, order: False)
    with placement.spread(2):
        assert mask() == ALLOWED              # nothing pinned for this pass ...
    assert placement._state["runtime"] is False
    with placement.spread(2):                 # ... nor for the next ones
        assert mask() == ALLOWED and not placement.workers_placed()
