"""OpenBLAS's idle worker threads ended before a net is read on several threads.

An OpenBLAS thread pool (numpy's and OpenCV's wheels each bundle one) starts its workers when
the library loads, and a worker with nothing to do keeps polling for work for about 2**28
processor cycles (0.1 s) before it sleeps, the same after every call that used it. A program's
``import cv2, numpy`` therefore leaves one worker per pool on a 2-core machine polling for the
next 0.1 s: exactly when ``readNetFromCaffe`` reads the caffemodel on a thread while it
parses the prototxt, and OpenCV 5 reads the net's parts on more. Measured on a 2-core AMD
EPYC (the res10 SSD's one-shot program, ``dnn.install()`` on OpenCV 5): from ``install()``
to the forward's answer 80 ms instead of 105 and 134 ms of CPU instead of 200 (medians of 8
alternating processes; ``/proc/self/task`` showed each pool's worker taking about 90 ms of CPU
after ``import cv2``); the whole process 0.95x its wall time and 0.43 s of CPU instead of 0.49
(30 alternating pairs).

``readNetFromCaffe`` calls :func:`rest_idle_pools` for a read bound for the torch-free path
(a process that has not imported torch; a process on the torch path keeps its pools as they
are). It calls each loaded OpenBLAS's ``blas_thread_shutdown_``: the routine
OpenBLAS registers itself to run before every ``fork()``, which ends its workers; the next
call that wants them starts them again, as after every fork. It runs only where no BLAS call
can be under way: the caller must be the process's only Python thread (a BLAS call on
another thread, ended under it, would lose its work). Libraries are found in
``/proc/self/maps`` (Linux; elsewhere nothing is done): threadpoolctl, which
:mod:`caffe_compat.parallel.numpy_blas` uses, finds them too, but its import and search took
6 ms of such a program against 0.5 ms for the map, and it has no call that ends workers.
Results do not change: the workers hold no state between calls. ``CAFFE_COMPAT_BLAS_REST=0``
in the environment leaves the pools alone.
"""
from __future__ import annotations

import ctypes
import os
import threading

ENV = "CAFFE_COMPAT_BLAS_REST"
MAPS = "/proc/self/maps"
_ROUTINE = "blas_thread_shutdown_"
_handles = {}           # path -> the library's shutdown routine, or None where it has none


def enabled(environ=None):
    """False when the environment turns it off (``CAFFE_COMPAT_BLAS_REST=0``)."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV, "").strip().lower() not in ("0", "off", "false", "no")


def loaded_openblas(maps=MAPS):
    """Paths of the OpenBLAS libraries mapped into this process (sorted; [] where the map
    cannot be read)."""
    try:
        with open(maps, "rb") as f:
            text = f.read()
    except OSError:
        return []
    found = set()
    for line in text.split(b"\n"):
        if b"openblas" not in line:
            continue
        fields = line.split(None, 5)        # address, perms, offset, dev, inode, path
        if len(fields) < 6 or not fields[5].startswith(b"/"):
            continue
        name = os.path.basename(fields[5])
        if b"openblas" in name and b".so" in name:
            found.add(os.fsdecode(fields[5]))
    return sorted(found)


def _routine(path):
    if path not in _handles:
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
            routine = getattr(lib, _ROUTINE)
            routine.restype, routine.argtypes = ctypes.c_int, []
        except (OSError, AttributeError):
            routine = None
        _handles[path] = routine
    return _handles[path]


def rest_idle_pools(environ=None, maps=MAPS):
    """End the workers of every loaded OpenBLAS (see the module doc); the number of libraries
    told to, 0 where switched off, another Python thread runs or none is loaded."""
    if not enabled(environ) or threading.active_count() != 1 or not hasattr(os, "RTLD_NOLOAD"):
        return 0
    done = 0
    for path in loaded_openblas(maps):
        routine = _routine(path)
        if routine is not None:
            routine()
            done += 1
    return done
