"""Keep freed memory in the process, as Caffe keeps its blobs.

Caffe allocates every blob once; torch allocates a fresh tensor per activation and pass, and
glibc hands blocks of more than 32 MiB straight back to the kernel, so every iteration faults
in and zeroes new pages again (figures: docs/threads.md's table). :func:`retain_freed_memory`
makes glibc serve all blocks from its heap and never trim it (``mallopt(M_MMAP_MAX, 0)``,
``mallopt(M_TRIM_THRESHOLD, max)``): freed activations are reused by the next pass, the
process keeping its peak memory until it exits. The solvers and the evaluation call it;
``CAFFE_COMPAT_KEEP_FREED_MEMORY=0`` turns it off. Elsewhere than glibc it does nothing."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied = None


def retain_freed_memory():
    """Apply the setting once per process; returns True when it is in force."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("CAFFE_COMPAT_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied
