"""How many threads the project's operators use: the cores this process can actually get.

torch splits every operator into fixed shares, one per OpenMP thread, and waits for the
slowest; a thread whose core another process of higher priority holds makes every operator
wait (OpenCV's dynamic pool and Caffe 1.0's BLAS-only threading do not collapse). This module
keeps torch's thread count at the cores we can get (the rules and figures: docs/threads.md):

- the cores allowed: the affinity mask (``sched_getaffinity``) capped by the cgroup's CPU
  quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``), read on each check;
- the cores held by others: the allowed cores' busy time in ``/proc/stat`` over the last
  window, less this process's own CPU time (``os.times``); positive-nice time does not count
  unless we are niced ourselves (the scheduler gives those cores back); ``steal`` counts;
- before the first window, and after a pause longer than :data:`STALE_WINDOW_S` (a window
  in which this process used less than half a core), the runnable threads of
  ``/proc/loadavg`` stand for it, and may then only give cores back, never take one;
- checked lazily, at most every :data:`CHECK_INTERVAL_S` seconds, when a forward, a step or
  a batch starts; a core counts as held once others used :data:`HELD_FRACTION` of it over a
  window; held cores drop only after :data:`RELEASE_WINDOWS` windows in a row agree.

While cores are held, :func:`crowded_count` is what :mod:`.pass_choice` measures against the
usable count. :func:`usable_threads` is the number the inference engines and the imresize
pool follow; :func:`apply` sets torch's count to it (an explicit ``torch.set_num_threads``
of the user is a ceiling). ``CAFFE_COMPAT_THREADS=N`` fixes the count at N and turns the
monitor off (``auto``, the default, keeps it on).

The wait policy (:mod:`.wait_policy`, set when ``caffe_compat`` is imported, before torch):
a bounded spin, :data:`DEFAULT_SPINCOUNT`, unless the user set ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` or torch is loaded already. Threads only change how work is split: every
result is the same bits with 1 thread or N (tests/caffe_compat/kernels/test_numerics.py,
test_exact_gemm.py, test_fixed_order.py; the reductions ATen ties to the thread count run on
one thread, :mod:`caffe_compat.kernels.fixed_order`)."""
from __future__ import annotations

import math
import os
import threading

from . import numpy_blas
from .wait_policy import DEFAULT_SPINCOUNT, set_default_wait_policy  # noqa: F401 (the policy)
from .core_monitor import (  # noqa: F401 (the monitor's names, read through this module)
    CHECK_INTERVAL_S, HELD_FRACTION, NICED_FRACTION, RELEASE_WINDOWS, STALE_WINDOW_S,
    CoreMonitor, affinity, cgroup_quota, niced_ticks, parse_cfs, parse_cpu_max,
    parse_proc_stat)

ENV_THREADS = "CAFFE_COMPAT_THREADS"
# a net whose largest layer does fewer multiply-adds than this runs single-threaded: waking a
# second thread costs more than it saves (torch's own grain is 32768 elements per operator)
SMALL_WORK = 1 << 20
# in the inference fast path (fast_run), a layer doing fewer multiply-adds than this (about 50
# microseconds of one core's work) runs on one thread inside a multi-threaded forward
SMALL_LAYER_WORK = 1 << 17
# the per-layer rule above, off: the forward was as fast or faster without it (figures:
# docs/threads.md, 'Small work on one thread')
PER_LAYER = False
# while cores are held, a compiled kernel's call of fewer multiply-adds than this keeps torch's
# count instead of the crowded one (kernel_threads; figures: docs/threads.md)
CROWDED_KERNEL_WORK = 1 << 27


_monitor = None
_fixed = None
# applied: the count the policy set last (main thread); ceiling: the program's count;
# override: (ceiling, applied, chosen) before the program changed the count, until it puts it
# back; chosen: the ceiling is the program's own (a set_num_threads call, OMP_NUM_THREADS), not
# torch's default; small: the pass apply() set up last is small work (one thread)
# pass_count: the threads of the passes under way (a measured choice, see pass_count());
# outside: a ceiling the program set through another library (OpenCV's cv2.setNumThreads,
# read by caffe_compat.dnn at each net read and forward; set_outside_limit); None: none
_state = {"applied": None, "ceiling": None, "override": None, "chosen": None, "small": False,
          "pass_count": None, "outside": None}


def _fixed_count():
    global _fixed
    if _fixed is None:
        value = os.environ.get(ENV_THREADS, "auto").strip().lower()
        if value in ("", "auto"):
            _fixed = 0
        else:
            try:
                _fixed = max(1, int(value))
            except ValueError:
                raise ValueError(f"{ENV_THREADS}={value!r}: expected 'auto' or a positive "
                                 f"number of threads") from None
    return _fixed


def monitor():
    """The process's :class:`CoreMonitor` (created on first use)."""
    global _monitor
    if _monitor is None:
        _monitor = CoreMonitor()
    return _monitor


def usable_threads():
    """Threads worth running now: the cores allowed less those held by other processes, at
    least 1, never above :func:`set_outside_limit`'s count. Cheap (a clock read) between two
    checks of ``/proc/stat``; call it when a forward, a step or a batch starts."""
    fixed = _fixed_count()
    return _clamp(fixed if fixed else monitor().check())


def set_outside_limit(n):
    """The program's thread count set through another library: OpenCV's
    ``cv2.setNumThreads(n)``, which OpenCV's dnn honours (:mod:`caffe_compat.dnn.opencv_threads`
    reads it). Below the cores allowed, every count of this policy (torch's, the engines'
    sessions, the compiled kernels', ``CAFFE_COMPAT_THREADS``'s) stays at or below it; None,
    or a count of at least the cores allowed (OpenCV's default is the CPU count), removes it.
    Returns the limit now in force (None: none)."""
    n = None if n is None or int(n) >= _default_count() else max(1, int(n))
    _state["outside"] = n
    return n


def _clamp(n):
    """``n`` under the outside limit (:func:`set_outside_limit`)."""
    limit = _state["outside"]
    return n if limit is None else min(n, limit)


def niced_neighbours():
    """Cores that other processes' work at a positive nice value took over the last window,
    while such work shares our cores (0 otherwise, and with a fixed count): the monitor does
    not count them as held (see the module doc), :mod:`.pass_choice` measures whether they
    cost a thread anyway."""
    if _fixed_count():
        return 0.0
    mon = monitor()
    return mon.niced_others if mon.contested else 0.0


def held_cores():
    """Cores held by other processes as last decided (0 with a fixed count)."""
    return 0 if _fixed_count() else monitor().held


def _see_program():
    """A count the program set with ``torch.set_num_threads`` since the policy's last (torch's
    count differs from the one the policy left), read where the policy decides (:func:`apply`,
    the crowded and kernel counts, :func:`max_threads`): the ceiling from now on. A count
    that puts back the one the policy had when an earlier change was seen (the pattern
    ``saved = torch.get_num_threads(); torch.set_num_threads(k); ...;
    torch.set_num_threads(saved)``) ends that change instead: the ceiling before it comes
    back, and a count the policy had lowered for a busy neighbour does not become the
    program's choice. A call that sets the count torch has already is not seen
    (:func:`set_max_threads` says it)."""
    if _state["applied"] is None or threading.current_thread() is not threading.main_thread():
        return                        # another thread's own count (OpenMP's is per thread)
    import torch
    n = torch.get_num_threads()
    if n == _state["applied"]:
        return
    override = _state["override"]
    if override is not None and n == override[1]:
        _state["ceiling"], _state["chosen"] = override[0], override[2]
        _state["override"] = None
    else:
        if override is None:
            _state["override"] = (_state["ceiling"], _state["applied"], _state["chosen"])
        _state["ceiling"], _state["chosen"] = n, True
    _state["applied"] = n


def set_max_threads(n):
    """The most threads torch may use from now on (as ``torch.set_num_threads``; the policy
    stays below it), also where torch has that count already."""
    import torch
    n = int(n)
    if n < 1:
        raise ValueError(f"n: expected a positive number of threads, got {n}")
    torch.set_num_threads(n)
    _state["ceiling"], _state["override"], _state["applied"] = n, None, n
    _state["chosen"] = True


class limited:
    """``with limited(n):`` at most ``n`` threads inside, as :func:`set_max_threads` says it
    (also where torch has ``n`` already); after it, the policy's record and torch's count as
    they were: a block at a count of its own (a benchmark's peer), which
    ``torch.set_num_threads`` cannot always say (see :func:`_see_program`)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        import torch
        self.saved = dict(_state), torch.get_num_threads()
        set_max_threads(self.n)
        return self

    def __exit__(self, *exc):
        import torch
        _state.update(self.saved[0])
        torch.set_num_threads(self.saved[1])
        return False


def max_threads():
    """The policy's ceiling: the count the program set (``torch.set_num_threads``,
    :func:`set_max_threads`), or torch's count when the policy first ran."""
    _see_program()
    return _state["ceiling"]


def set_pass_threads(n):
    """torch's count for a part of a pass (the fast path's per-layer rule, a measured
    count), not a ceiling: the pass puts the count :func:`apply` chose back when it ends."""
    import torch
    torch.set_num_threads(n)
    if threading.current_thread() is threading.main_thread() and \
            _state["applied"] is not None:
        _state["applied"] = n


class pass_count:
    """``with pass_count(n):`` the passes inside (a training iteration's forward, backward and
    update) run on ``n`` threads, small work on one: a choice measured by
    :mod:`caffe_compat.parallel.pass_choice` for this iteration (fewer threads than usable
    under a niced neighbour, more while other processes hold cores, :func:`crowded_count`),
    not the program's ceiling. ``None``: the policy's count."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.saved = _state["pass_count"]
        if self.n is not None:
            _state["pass_count"] = self.n
        return self

    def __exit__(self, *exc):
        _state["pass_count"] = self.saved
        return False


def _default_count():
    """The cores this process may run on: torch's count when the program sets none (at most
    this many)."""
    return len(affinity())


def _program_chose():
    """Whether the count is the program's own: a ``torch.set_num_threads`` call seen (or
    :func:`set_max_threads`), ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` in the environment,
    or a ceiling below the cores allowed when the policy first ran (a count set before it
    could see the call)."""
    _see_program()
    if _state["chosen"]:
        return True
    if _state["chosen"] is None:       # decided once, when the policy first runs
        _state["chosen"] = bool(os.environ.get("OMP_NUM_THREADS") or
                                os.environ.get("MKL_NUM_THREADS")) or \
            (_state["ceiling"] is not None and _state["ceiling"] < _default_count())
    return _state["chosen"]


def crowded_count():
    """Threads worth measuring against the usable count while other processes hold some of
    our cores (:func:`held_cores`), for the pass :func:`apply` set up last; 0 when there is
    nothing to measure: no core held, small work, a fixed count, a count the program chose
    (its ceiling is respected), or a thread other than the main one (a pool's worker).

    The count is the cores allowed plus two (4 on two cores): more threads than cores, the same
    however many cores are held, so a neighbour coming and going does not restart the
    measurement. With more threads than cores each share is smaller and libgomp's idle threads
    sleep at once, so the scheduler moves the waiting thread to the free core;
    :mod:`.pass_choice` keeps whichever count its passes measure faster (figures:
    docs/threads.md, 'More threads than cores while cores are held')."""
    if _fixed_count() or _state["small"] or _program_chose() or _state["outside"] or \
            threading.current_thread() is not threading.main_thread():
        return 0                      # (a worker thread of a pool shares the cores already)
    return 0 if monitor().held <= 0 else monitor().cores + 2


def array_kernel_threads(work):
    """Threads for a compiled kernel's call of ``work`` multiply-adds in a pass on numpy
    arrays (:mod:`caffe_compat.array_net`, where torch is not loaded): :func:`kernel_threads`'
    rule with the cores allowed standing for torch's count: 1 below :data:`SMALL_LAYER_WORK`,
    a fixed count as set, a count from ``OMP_NUM_THREADS`` at most, and more threads than
    cores for a large call while another process holds one of ours."""
    return _clamp(_array_kernel_threads(work))


def _array_kernel_threads(work):
    fixed = _fixed_count()
    if fixed:
        return fixed
    if work < SMALL_LAYER_WORK or threading.current_thread() is not threading.main_thread():
        return 1
    cores = _default_count()
    chosen = os.environ.get("OMP_NUM_THREADS", "").strip()
    if chosen.isdigit() and int(chosen) > 0:
        return min(cores, int(chosen))
    mon = monitor()
    mon.check()
    if mon.held > 0 and work >= CROWDED_KERNEL_WORK:
        return mon.cores + 2
    return max(1, min(cores, mon.cores))


def kernel_threads(work=None):
    """Threads for the project's own compiled kernels whose work units threads take in turn
    (:mod:`caffe_compat.kernels.blas_order`'s products and convolution gradients): torch's
    count for the pass, or more where that pays.

    While another process holds one of our cores, a thread whose core is taken takes fewer units
    and the others take the rest, so these kernels run on :func:`crowded_count` even when torch's
    operators run on the usable count; a call of fewer than :data:`CROWDED_KERNEL_WORK`
    multiply-adds (``work``) keeps torch's count. Idle, or under a niced neighbour, they run on
    the cores allowed. Small work (:func:`apply`'s rule), a fixed count, a count the program
    chose (its ceiling) and a pool's worker threads keep torch's count (figures:
    docs/threads.md, 'Our own kernels hand out work')."""
    import torch
    current = torch.get_num_threads()
    if _fixed_count() or _state["small"] or _state["outside"] or \
            threading.current_thread() is not threading.main_thread():
        return current                # (apply set torch's count under the outside limit)
    crowded = crowded_count()
    if crowded:
        if work is not None and work < CROWDED_KERNEL_WORK:
            return current
        return max(current, crowded)
    ceiling = _state["ceiling"] if _state["ceiling"] is not None else current
    return max(current, min(ceiling, monitor().cores))


def apply(work=None):
    """Set torch's intra-op thread count for the pass about to start: 1 when ``work`` (the
    multiply-adds of its largest layer) is below :data:`SMALL_WORK`, else
    :func:`usable_threads`, never above the count the program set. Returns the count.

    In a thread other than the main one (a worker of ``run_eval``'s pool), OpenMP's count is
    that thread's own: it is set there, and the main thread's record is left alone."""
    import torch
    _see_program()
    current = torch.get_num_threads()
    main = threading.current_thread() is threading.main_thread()
    if _state["ceiling"] is None:
        _state["ceiling"] = current   # the process's count when the policy first runs
        numpy_blas.limit_once()       # numpy's own BLAS pool off the cores torch's team uses
    ceiling = _state["ceiling"]
    small = work is not None and work < SMALL_WORK
    counted = _state["pass_count"]
    if small:
        want = 1
    elif counted is not None and main:
        want = _clamp(counted)         # a measured iteration's count (pass_count)
    else:
        want = min(ceiling, usable_threads())
    if main:
        _state["small"] = small
    if want != current:
        torch.set_num_threads(want)
    if main:
        _state["applied"] = want
    return want


def layer_work(module, bottom_shapes, top_shapes):
    """Rough multiply-adds of one layer's forward: every output element costs the fan-in of
    its weights (a convolution's ``C / group * kh * kw``, an InnerProduct's K), or 1 for a
    layer without weights; at least the elements it reads."""
    def numel(shape):
        return math.prod(int(d) for d in shape) if shape is not None else 0
    out = sum(numel(s) for s in top_shapes)
    fan_in = 1
    weight = next(iter(module.parameters()), None) if hasattr(module, "parameters") else None
    if weight is not None and weight.dim() >= 2 and weight.shape[0] > 0:
        fan_in = weight.numel() // int(weight.shape[0])
    return max(out * fan_in, sum(numel(s) for s in bottom_shapes))


def net_work(net):
    """(multiply-adds of the largest layer of ``net`` at its set-up shapes, the set-up batch)
    for :func:`apply`'s small-net rule; the first dimension of the first Input or data blob is
    the batch."""
    shapes = net._blob_shapes
    largest, batch = 0, None
    for node, key, _, _ in net._nodes:
        module = net.layers[key]
        tops = [shapes.get(t) for t in node.tops]
        if batch is None and (node.type == "Input" or getattr(module, "is_data", False)) \
                and tops and tops[0]:
            batch = int(tops[0][0]) or 1
        largest = max(largest, layer_work(module, [shapes.get(b) for b in node.bottoms], tops))
    return largest, batch or 1


def apply_for_net(net, inputs=None):
    """:func:`apply` for a pass of ``net``: single-threaded when its largest layer is small
    at the batch fed (``inputs``: name -> tensor) or set up. Decided from shapes worked out
    once per net; a pass pays a clock read and a dictionary look-up."""
    cached = net.__dict__.get("_thread_work")
    if cached is None:
        cached = net.__dict__["_thread_work"] = net_work(net)
    largest, batch = cached
    if inputs:
        first = next(iter(inputs.values()))
        fed = int(first.shape[0]) if getattr(first, "dim", lambda: 0)() else 1
        largest = largest * fed // batch
    return apply(largest)
