"""Where a pass's threads run while niced work shares our cores: one CPU each.

Linux puts a woken thread beside its waker when no CPU is idle (the niced loop's is not), so
torch's OpenMP worker lands on the main thread's CPU and the two take turns on one core (the
``perf sched`` trace and the figures: docs/threads.md, 'One thread per CPU under niced
neighbours'). So while niced work shares our cores and a pass runs on ``n`` threads, no more
than the CPUs allowed, :func:`spread` places them one per CPU: the main thread on the CPU it
is on, the OpenMP workers on the others, each pinning itself in a small parallel region run
through the OpenMP runtime torch uses (``GOMP_parallel``: libgomp's entry point, which LLVM's
and Intel's runtimes also provide).

- The main thread gets the process's CPUs back when the pass ends.
- The workers keep their CPU until a pass runs without niced work (:func:`release_workers`):
  an idle machine, or cores held by other processes, where one CPU each would be wrong.
- Threads started while the main thread is pinned inherit its one CPU: the compiled kernels'
  teams are given the process's CPUs (``set_team_cpus``), and the project's own Python
  threads widen their mask when they start (:func:`widen_current_thread`).
- :func:`process_cpus` is the process's mask even while the main thread is pinned.

Placement never changes what a thread computes, only where it runs. It is off where the
program manages placement itself (``OMP_PROC_BIND``, ``GOMP_CPU_AFFINITY``, ``KMP_AFFINITY``
or ``OMP_PLACES`` set), where torch's threads are not OpenMP's, with
``CAFFE_COMPAT_PLACEMENT=0``, and outside Linux."""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import threading

ENV_PLACEMENT = "CAFFE_COMPAT_PLACEMENT"
# the program places its threads itself: leave them alone
_PROGRAM_PLACES = ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "KMP_AFFINITY")
_RUNTIMES = ("libgomp", "libiomp5", "libomp")
# the compiled kernels that start threads of their own
_TEAM_MODULES = ("caffe_compat.kernels._exact_gemm", "caffe_compat.kernels._pool_kernel",
                 "caffe_compat.kernels._lrn_kernel")

_lock = threading.RLock()
_state = {
    "runtime": None,      # (GOMP_parallel, omp_get_thread_num) once found, False if none
    "depth": 0,           # spread() blocks under way (nested passes place once)
    "process": None,      # the process's CPUs while the main thread is pinned
    "main_cpu": None,     # the main thread's CPU in the current placement
    "workers": {},        # native thread id -> CPU, of the workers pinned
    "kernels": None,      # the compiled kernels that start threads (False: one cannot place)
    "getcpu": None,       # libc's sched_getcpu once looked up (False: none)
}
_region = {"cpus": (), "tids": {}, "errors": []}
_REGION_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)     # an OpenMP region's body


def enabled(environ=None):
    """Whether passes may be placed: Linux, the switch not off, no placement of the
    program's own in the environment."""
    environ = os.environ if environ is None else environ
    if not hasattr(os, "sched_setaffinity"):
        return False
    if environ.get(ENV_PLACEMENT, "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    return not any(environ.get(k) for k in _PROGRAM_PLACES)


def _find_runtime():
    """The OpenMP runtime torch runs on, as ``(GOMP_parallel, omp_get_thread_num)``, or
    None: torch's parallel backend is not OpenMP, or its runtime is not loaded. The runtime
    is the one torch's wheel ships in its ``lib`` folder (else the system's ``libgomp``),
    taken only where the process has it loaded already (``RTLD_NOLOAD``)."""
    import glob

    import torch
    if "ATen parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None                       # torch's own thread pool (or TBB): not OpenMP's
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    candidates = sorted(p for name in _RUNTIMES
                        for p in glob.glob(os.path.join(torch_lib, name + "*.so*")))
    candidates += [name + ".so.1" for name in _RUNTIMES]
    lib = None
    for path in candidates:
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
            break
        except OSError:
            continue
    if lib is None:
        return None
    try:
        parallel, thread_num = lib.GOMP_parallel, lib.omp_get_thread_num
    except AttributeError:
        return None
    parallel.argtypes = [_REGION_FN, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    parallel.restype = None
    thread_num.argtypes = []
    thread_num.restype = ctypes.c_int
    return parallel, thread_num


def _pin_member(_data):
    """The body of the placing region, in every thread of the team: the workers pin
    themselves to their CPU and say who they are."""
    try:
        i = _state["runtime"][1]()
        if i == 0:
            return
        cpu = _region["cpus"][i]
        os.sched_setaffinity(0, {cpu})
        _region["tids"][i] = threading.get_native_id()
    except BaseException as e:      # noqa: BLE001 (a callback cannot raise: recorded)
        _region["errors"].append(e)


_pin_member_fn = _REGION_FN(_pin_member)


def _runtime():
    if _state["runtime"] is None:
        _state["runtime"] = _find_runtime() or False
    return _state["runtime"]


def _current_cpu(allowed):
    """The CPU the calling thread runs on (the first allowed where libc cannot say)."""
    if _state["getcpu"] is None:
        try:
            _state["getcpu"] = ctypes.CDLL(None).sched_getcpu
        except (OSError, AttributeError):
            _state["getcpu"] = False
    cpu = _state["getcpu"]() if _state["getcpu"] else -1
    return cpu if cpu in allowed else allowed[0]


def _team_modules():
    """The compiled kernels that start threads, loaded once; None when one of them cannot be
    told where its threads run (a build older than ``set_team_cpus``): no placement then."""
    if _state["kernels"] is None:
        found = []
        for name in _TEAM_MODULES:
            try:
                found.append(importlib.import_module(name))
            except ImportError:
                continue                  # not built: its layers use torch's kernels
        usable = all(hasattr(m, "set_team_cpus") for m in found)
        _state["kernels"] = found if usable else False
    return _state["kernels"] if _state["kernels"] is not False else None


def _set_team_cpus(cpus):
    """The compiled kernels' thread teams on ``cpus`` (None: the creating thread's)."""
    for module in _team_modules() or ():
        module.set_team_cpus(cpus)


def process_cpus():
    """The CPUs this process may run on: its affinity mask, the one saved while the main
    thread is pinned for a pass."""
    saved = _state["process"]
    return list(saved) if saved is not None else sorted(os.sched_getaffinity(0))


def _workers_alive():
    for tid in _state["workers"]:
        try:
            os.sched_getaffinity(tid)
        except OSError:
            return False
    return True


def _place_workers(n, order):
    """Pins the OpenMP team of ``n`` threads, worker i on ``order[i]``; True when every
    worker did."""
    parallel, _ = _runtime()
    _region["cpus"], _region["tids"], _region["errors"] = tuple(order), {}, []
    parallel(_pin_member_fn, None, n, 0)
    tids = _region["tids"]
    ok = not _region["errors"] and sorted(tids) == list(range(1, n)) and \
        len(set(tids.values())) == n - 1 and threading.get_native_id() not in tids.values()
    _state["workers"] = {tid: order[i] for i, tid in tids.items()}
    return ok


def release_workers():
    """Gives the workers a placement pinned the process's CPUs back (nothing while a placed
    pass is under way, or when none are pinned)."""
    with _lock:
        if _state["depth"] or not _state["workers"]:
            return
        allowed = set(process_cpus())
        for tid in _state["workers"]:
            with contextlib.suppress(OSError):          # (the thread has ended)
                os.sched_setaffinity(tid, allowed)
        _state["workers"], _state["main_cpu"] = {}, None


def workers_placed():
    """Whether OpenMP workers are pinned by an earlier placement (a flag read)."""
    return bool(_state["workers"])


def widen_current_thread():
    """For a thread the project starts (a prefetcher, a helper): while a placed pass pins the
    main thread, a thread started from it inherits its one CPU; this gives the calling thread
    the process's CPUs."""
    saved = _state["process"]
    if saved is not None and threading.current_thread() is not threading.main_thread():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(saved))


class spread:
    """``with spread(n):`` a pass on ``n`` threads (torch's count as set), placed one per
    CPU (see the module doc). ``n`` < 2: nothing placed, and workers an earlier placement
    pinned get the process's CPUs back (a flag read when there are none). Inside a placed
    pass (a test net's forward within a training iteration) the placement stands; threads
    other than the main one are left alone."""

    __slots__ = ("n", "allowed", "nested")

    def __init__(self, n):
        self.n = n
        self.allowed = None
        self.nested = False

    def __enter__(self):
        if self.n < 2 and not _state["workers"] and not _state["depth"]:
            return self
        if threading.current_thread() is not threading.main_thread():
            return self
        if _state["depth"]:
            _state["depth"] += 1
            self.nested = True
            return self
        self.allowed = _place(self.n)
        if self.allowed is not None:
            _state["depth"] = 1
        return self

    def __exit__(self, *exc):
        if self.nested:
            _state["depth"] -= 1
        elif self.allowed is not None:
            _state["depth"] = 0
            _restore_main(self.allowed)
        return False


def _place(n):
    """Places a pass on ``n`` threads; the process's CPUs when it did (the main thread is
    then pinned), else None (workers an earlier placement pinned released)."""
    allowed = sorted(os.sched_getaffinity(0)) if n >= 2 and enabled() else ()
    if not 2 <= n <= len(allowed) or not _runtime() or _team_modules() is None:
        release_workers()
        return None
    with _lock:
        # the workers of an earlier placement for this count (a failed one is released)
        placed = len(_state["workers"]) == n - 1 and _state["main_cpu"] in allowed and \
            set(_state["workers"].values()) <= set(allowed) and _workers_alive()
        if placed:
            main = _state["main_cpu"]
        else:
            release_workers()
            main = _current_cpu(allowed)
        _state["process"] = tuple(allowed)
        try:
            os.sched_setaffinity(0, {main})
            _set_team_cpus(allowed)
            if not placed and not _place_workers(n, [main] + [c for c in allowed
                                                               if c != main]):
                # the runtime ran the region otherwise than asked (fewer threads, a
                # callback that failed): no placement from now on
                _state["runtime"] = False
                _restore_main(allowed)
                release_workers()
                return None
        except BaseException:
            _restore_main(allowed)
            raise
        _state["main_cpu"] = main
        return allowed


def _restore_main(allowed):
    """The main thread back on the process's CPUs, and the kernels' teams inheriting."""
    _state["process"] = None
    try:
        _set_team_cpus(None)
    finally:
        os.sched_setaffinity(0, set(allowed))


def _after_fork_in_child():
    """A child forked during a placed pass: no OpenMP workers there, the main thread's mask
    is the process's again."""
    saved = _state["process"]
    _state.update(depth=0, process=None, main_cpu=None, workers={})
    if saved is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(saved))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
