"""The worker threads and per-thread scratch buffers of ``imresize``.

numpy releases the GIL in its loops, so the 1-D passes run blocks of output rows on a small
thread pool (:func:`set_num_threads`, default: the processors available, at most 8). Scratch
buffers are reused per thread: fresh pages cost more than the arithmetic on them.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import PortError

_num_threads = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else (os.cpu_count() or 1)))
_pool = None
_pool_lock = threading.Lock()


def set_num_threads(n):
    """Number of worker threads imresize may use (numpy releases the GIL in its loops)."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise PortError(f"n: expected a positive integer, got {n!r}")
    with _pool_lock:
        _num_threads = int(n)
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def get_num_threads():
    """Number of worker threads imresize uses."""
    return _num_threads


_local = threading.local()


def _scratch(slot, shape, dtype):
    """A per-thread reusable buffer (fresh pages cost more than the arithmetic on them)."""
    dtype = np.dtype(dtype)
    need = int(np.prod(shape)) * dtype.itemsize
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.size < need:
        buf = bufs[slot] = np.empty(max(need, 1), np.uint8)
    return buf[:need].view(dtype).reshape(shape)


def _get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="imresize")
        return _pool
