"""Keep freed memory in the process, as Caffe keeps its blobs.

Caffe allocates every blob once and reuses it for every iteration. torch allocates a fresh
tensor for each activation of each pass; glibc hands blocks of more than 32 MiB (a CNN+D batch
of 128 has activations of 277 MB) straight back to the kernel when they are freed, so every
iteration faults in and zeroes hundreds of megabytes of new pages again: a quarter of a CNN+D
training iteration on two cores. :func:`retain_freed_memory` makes glibc serve all blocks from
its heap and never trim it (``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, max)``):
freed activations are reused by the next pass, at the price of the process keeping its peak
memory until it exits (which a training or evaluation process reaches anyway).

The solvers and the evaluation call it; ``CAFFE_COMPAT_KEEP_FREED_MEMORY=0`` turns it off.
Elsewhere than glibc it does nothing.

:func:`blob_zeros` allocates the array engine's blobs, parameters and diffs (pycaffe's nets
on numpy arrays) without numpy's advice that arrays of 4 MB or more be backed by transparent
huge pages (``madvise(MADV_HUGEPAGE)``, numpy's default on Linux): Caffe's blobs are plain
``malloc`` memory. On the shared 2-core virtual machines these figures come from, the first
touch of new memory under that advice took 0.31-0.46 s per 151 MB in three tries of four
(0.02 s in the fourth; each array held, so that the next needed new memory) against 0.06-0.08
s for small pages, and net surgery on CaffeNet (a 233 MB caffemodel loaded twice, the fully
connected weights copied into the new net's parameters, saved, one forward) spent much of its
time there: its weight copy 0.27-0.30 s against 0.44-0.89 s with the advice; with the save
written in pieces too, the whole program took 0.71x its time before and 0.72x real Caffe's
(bench_programs.py, two rounds). The program's own arrays keep numpy's advice (a loop that
frees and allocates large temporaries gets its huge pages back at once).
``CAFFE_COMPAT_NUMPY_HUGEPAGE=1`` keeps numpy's advice for the blobs too.
"""
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


KEEP_ENV = "CAFFE_COMPAT_NUMPY_HUGEPAGE"
_switch = []            # numpy's setter of its huge-page advice (None: numpy has none)


def _advice_switch():
    """numpy's setter of its huge-page advice, looked up once (None where numpy has none or
    :data:`KEEP_ENV` keeps the advice)."""
    if not _switch:
        import numpy as np
        core = getattr(np, "_core", None) or getattr(np, "core", None)
        setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
        keep = os.environ.get(KEEP_ENV, "").strip().lower() in ("1", "on", "yes", "true")
        _switch.append(None if keep else setter)
    return _switch[0]


def blob_zeros(shape, like=None):
    """A zeroed float32 array of ``shape`` (or ``like``'s shape and type) on small pages (module
    doc): numpy's huge-page advice is off while it is allocated, then as it was."""
    import numpy as np
    switch = _advice_switch()
    if switch is None:
        return np.zeros_like(like) if like is not None else np.zeros(shape, np.float32)
    was = switch(False)
    try:
        return np.zeros_like(like) if like is not None else np.zeros(shape, np.float32)
    finally:
        switch(was)
