"""The array engine's blobs on small pages, as Caffe's.

:func:`blob_zeros` allocates the array engine's blobs, parameters and diffs (pycaffe's nets
on numpy arrays) as Caffe's ``malloc`` does: an array of 4 MB or more is an anonymous memory
map of its own (Python's :mod:`mmap`, zero-filled by the kernel), which the kernel backs with
small pages unless transparent huge pages are on for every mapping; smaller arrays are numpy's.
numpy itself advises huge pages (``madvise(MADV_HUGEPAGE)``) for its arrays of 4 MB or more on
Linux. On the shared 2-core virtual machines these figures come from, the first touch of new
memory under that advice took 0.31-0.46 s per 151 MB in three tries of four (0.02 s in the
fourth; each array held, so that the next needed new memory) against 0.06-0.08 s for small
pages, and net surgery on CaffeNet (a 233 MB caffemodel loaded twice, the fully connected
weights copied into the new net's parameters, saved, one forward) spent much of its time there.
The program's own arrays keep numpy's advice (a loop that frees and allocates large temporaries
gets its huge pages back at once). ``CAFFE_COMPAT_NUMPY_HUGEPAGE=1`` makes the blobs numpy's
too. Only public means: :mod:`mmap` (a private anonymous map, as malloc's: Python's default
anonymous map is shared memory, whose first touches cost more) and ``numpy.frombuffer``; the
memory goes back to the system when the last array over it goes. Measured against numpy's
private switch flipped around ``np.zeros`` (the code before): net surgery on CaffeNet 0.96x its
wall time (``bench_programs.py --before``, eight rounds, twice).
"""
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
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = 4 * count
    if nbytes < MAPPED_MIN or _keep_numpy():
        return np.zeros(shape, np.float32)
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(memory, np.float32, count).reshape(shape)
