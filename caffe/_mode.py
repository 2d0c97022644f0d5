"""pycaffe's module-level state and functions (``caffe._caffe`` in Caffe): phases, CPU/GPU
mode, device, random seed, logging, the multi-GPU counters and ``Timer`` (Caffe's CPUTimer as
pycaffe exposes it: ``start``, ``stop``, ``ms``).

GPU mode means CUDA through torch: a net runs on ``cuda:<set_device id>`` when it runs in GPU
mode (:mod:`caffe._placement`). ``use_device_standin()`` keeps GPU mode's device copies on the
CPU, so a machine without a GPU runs GPU mode's memory rule (tests). Nothing here imports
torch until it is needed."""
from __future__ import annotations

import logging
import os
import time

# caffe_pb2.Phase values (TRAIN = 0, TEST = 1), without importing protobuf
TRAIN = 0
TEST = 1
__version__ = "1.0.0"

_state = {"mode": "cpu", "device_id": 0, "solver_count": 1, "solver_rank": 0,
          "multiprocess": False,
          "standin": os.environ.get("CAFFE_COMPAT_DEVICE_STANDIN", "").strip() not in ("", "0")}
_logger = logging.getLogger("caffe")


def set_mode_cpu():
    """Nets run on the CPU from their next forward or backward (Caffe::set_mode(CPU));
    solvers created from now on train there."""
    _state["mode"] = "cpu"


def set_mode_gpu():
    """Nets run on the GPU (device ``set_device``) from their next forward or backward
    (Caffe::set_mode(GPU)); solvers created from now on train there."""
    _state["mode"] = "gpu"


def set_device(device_id):
    """The CUDA device used in GPU mode (Caffe::SetDevice)."""
    _state["device_id"] = int(device_id)


def use_device_standin(enabled=True):
    """GPU mode with the device copies on the CPU (a second copy of every blob and parameter,
    kept by the same rule as on a GPU): for testing GPU mode's memory rule on a machine without
    one. Also set by the environment variable ``CAFFE_COMPAT_DEVICE_STANDIN=1``."""
    _state["standin"] = bool(enabled)


def gpu_mode():
    """Whether Caffe's mode is GPU now."""
    return _state["mode"] == "gpu"


def device():
    """The torch device string of the current mode ("cpu" or "cuda:N"; "cpu" in GPU mode
    with the stand-in). GPU mode without a usable CUDA device, or with a device id beyond
    the devices there, is an error."""
    if _state["mode"] == "gpu":
        if _state["standin"]:
            return "cpu"
        import torch
        from caffe_compat.errors import CaffeCompatError
        if not torch.cuda.is_available():
            raise CaffeCompatError("caffe.set_mode_gpu(): this torch has no CUDA device; "
                                   "call caffe.set_mode_cpu() or install a CUDA build of torch")
        count = torch.cuda.device_count()
        if not 0 <= _state["device_id"] < count:
            raise CaffeCompatError(f"caffe.set_device({_state['device_id']}): there "
                                   f"{'is' if count == 1 else 'are'} {count} CUDA "
                                   f"device{'' if count == 1 else 's'} (ids 0..{count - 1})")
        return f"cuda:{_state['device_id']}"
    return "cpu"


def set_random_seed(seed):
    """Seed the random streams that fillers, Dropout and data layers draw from
    (Caffe::set_random_seed): the thread's Caffe stream (data layers, uniform fillers) and
    torch's default generator (the others). A program that has not loaded torch yet does not
    load it here: torch's generator is seeded when the first net is built on torch (nothing
    of ours draws from it before), so a program whose nets stay on numpy arrays never pays
    torch's import."""
    from caffe_compat.data.caffe_random import seed_torch, set_thread_seed
    set_thread_seed(int(seed))
    seed_torch(int(seed))


def init_log(level=0, use_stderr=False):
    """Caffe's glog setup: messages of ``caffe.log`` and the solvers at ``level`` (glog's
    0 = INFO, 1 = WARNING, 2 = ERROR, 3 = FATAL) and above go to stderr."""
    levels = {0: logging.INFO, 1: logging.WARNING, 2: logging.ERROR, 3: logging.CRITICAL}
    _logger.setLevel(levels.get(int(level), logging.INFO))
    if not _logger.handlers:
        _logger.addHandler(logging.StreamHandler())


def log(message):
    """Write ``message`` to Caffe's log (LOG(INFO))."""
    _logger.info(str(message))


def solver_count():
    from caffe_compat.parallel import data_parallel as _parallel
    return _parallel.solver_count()


def set_solver_count(count):
    """How many solvers train together (data-parallel; see ``caffe.NCCL``)."""
    from caffe_compat.parallel import data_parallel as _parallel
    _parallel.set_solver_count(count)
    _state["solver_count"] = _parallel.solver_count()


def solver_rank():
    from caffe_compat.parallel import data_parallel as _parallel
    return _parallel.solver_rank()


def set_solver_rank(rank):
    """This process's rank among them (0 tests, snapshots and logs)."""
    from caffe_compat.parallel import data_parallel as _parallel
    _parallel.set_solver_rank(rank)
    _state["solver_rank"] = _parallel.solver_rank()


def set_multiprocess(value):
    from caffe_compat.parallel import data_parallel as _parallel
    _parallel.set_multiprocess(value)
    _state["multiprocess"] = bool(value)


def has_nccl():
    """True: ``caffe.NCCL`` exchanges gradients between processes (torch.distributed: NCCL
    between GPUs, gloo between CPU processes)."""
    return True


class Timer:
    """Wall-clock timer: ``start()``, ``stop()``; ``ms`` is the last start-stop interval (or
    the time since ``start`` while running), in milliseconds."""

    def __init__(self):
        self._start = None
        self._elapsed = 0.0
        self._running = False

    def start(self):
        self._start = time.perf_counter()
        self._running = True

    def stop(self):
        if self._running:
            self._elapsed = time.perf_counter() - self._start
            self._running = False

    @property
    def ms(self):
        if self._running:
            return (time.perf_counter() - self._start) * 1e3
        return self._elapsed * 1e3
