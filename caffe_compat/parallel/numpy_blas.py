"""numpy's BLAS on one thread once this project's passes run: one pool of threads per process.

In Caffe 1.0 a pycaffe program's passes and its numpy work share one OpenBLAS pool; here the
passes run on torch's OpenMP team and numpy's products on numpy's own OpenBLAS pool, and
the two pools' spinning workers take turns on the same cores (figures: docs/threads.md,
"numpy's BLAS pool"). :func:`limit_once` (called by
:func:`caffe_compat.parallel.threads.apply` at the first pass, and by the array engine's
first pass, :mod:`caffe_compat.array_net`) sets numpy's and SciPy's BLAS libraries to one
thread, unless the program chose their threads: ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS`` or ``OMP_NUM_THREADS`` in the environment, or
``CAFFE_COMPAT_NUMPY_BLAS=keep``. Only libraries numpy or SciPy ship are touched. This
project's arithmetic does not change; numpy's float32 products may change in their last bits
(up to 4e-5 on a 300x500 product of unit normals), as real Caffe's do between its own set-ups
(both thread counts are among the oracle runs, tests/pycaffe/public_programs/README.md)."""
from __future__ import annotations

import os
import sys

ENV_KEEP = "CAFFE_COMPAT_NUMPY_BLAS"
# a program that set one of these chose its BLAS threads: left as it is
CHOSEN_BY = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS")
# path fragments of the BLAS builds that numpy's and SciPy's wheels ship
SHIPPED_BY = ("numpy", "scipy")

_state = {"done": False, "limited": ()}


def _shipped(filepath):
    parts = os.path.normpath(filepath).lower().split(os.sep)
    return any(any(p.startswith(name) for name in SHIPPED_BY) for p in parts)


def limit_once(environ=None):
    """Set numpy's BLAS pools to one thread, the first time only (see the module doc).
    Returns the file paths of the libraries set (an empty tuple when none was)."""
    if _state["done"]:
        return _state["limited"]
    _state["done"] = True
    environ = os.environ if environ is None else environ
    if environ.get(ENV_KEEP, "").strip().lower() == "keep" or \
            any(environ.get(name) for name in CHOSEN_BY) or "numpy" not in sys.modules:
        return ()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:                 # pragma: no cover - a dependency
        return ()
    limited = []
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and _shipped(lib.filepath) and lib.num_threads > 1:
            lib.set_num_threads(1)
            limited.append(lib.filepath)
    _state["limited"] = tuple(limited)
    return _state["limited"]
