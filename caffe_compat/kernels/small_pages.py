"""The array engine's blobs on small pages, as Caffe's.

:func:`blob_zeros` allocates the array engine's blobs, parameters and diffs (pycaffe's nets
on numpy arrays) as Caffe's ``malloc`` does: an array of 4 MB or more is a private anonymous
memory map of its own (:mod:`mmap`, zero-filled by the kernel; Python's default anonymous map
is shared memory, whose first touches cost more), backed by small pages unless transparent
huge pages are on for every mapping; smaller arrays are numpy's. numpy advises huge pages
(``madvise(MADV_HUGEPAGE)``) for its arrays of 4 MB or more, whose first touch costs several
times a small page's on a shared virtual machine (figures: docs/benchmarks.md, net surgery on
CaffeNet; docs/threads.md). The program's own arrays keep numpy's advice.
``CAFFE_COMPAT_NUMPY_HUGEPAGE=1`` makes the blobs numpy's too. Only public means: :mod:`mmap`
and ``numpy.frombuffer``; the memory goes back to the system when the last array over it goes."""
from __future__ import annotations

import mmap
import os

KEEP_ENV = "CAFFE_COMPAT_NUMPY_HUGEPAGE"
# numpy's threshold for its huge-page advice (4 MiB); below it numpy's arrays are malloc's
MAPPED_MIN = 4 << 20
_keep = []


def _keep_numpy():
    if not _keep:
        _keep.append(os.environ.get(KEEP_ENV, "").strip().lower() in ("1", "on", "yes", "true"))
    return _keep[0]


def blob_zeros(shape):
    """A zeroed, C-contiguous float32 array of ``shape`` on small pages (module doc)."""
    import numpy as np
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = 4 * count
    if nbytes < MAPPED_MIN or _keep_numpy():
        return np.zeros(shape, np.float32)
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(memory, np.float32, count).reshape(shape)
