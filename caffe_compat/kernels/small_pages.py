"""The array engine's blobs on small pages, as Caffe's.

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

import os

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


def blob_zeros(shape):
    """A zeroed float32 array of ``shape`` on small pages (module doc): numpy's huge-page
    advice is off while it is allocated, then as it was."""
    import numpy as np
    switch = _advice_switch()
    was = switch(False) if switch is not None else None
    try:
        return np.zeros(shape, np.float32)
    finally:
        if switch is not None:
            switch(was)
