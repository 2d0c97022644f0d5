"""``cv2.setNumThreads(n)`` for the nets of :mod:`caffe_compat.dnn`, as OpenCV's dnn honours it.

OpenCV 4's dnn runs its layers on ``cv2.getNumThreads()`` threads. After
``caffe_compat.dnn.install()`` our engines run the net, each with its own threads
(:mod:`caffe_compat.parallel.threads` decides them all), so the count OpenCV reports is read
when a net is read and when a forward starts (only where the program imported cv2) and, when
it changed, given to the thread policy as a ceiling
(:func:`caffe_compat.parallel.threads.set_outside_limit`): torch's count is set to it, the
engines' sessions are keyed by the count, and a net's torch-free sessions are built again.
OpenCV's default (the CPU count) sets no ceiling. ``setNumThreads(0)`` (OpenCV: no
threading) reads back as 1."""
from __future__ import annotations

import os
import sys

_last = {"read": None}
_POLICY = "caffe_compat.parallel.threads"


def opencv_count():
    """``cv2.getNumThreads()`` where the program imported cv2, else None."""
    cv2 = sys.modules.get("cv2")
    get = getattr(cv2, "getNumThreads", None)
    if get is None:
        return None
    try:
        return int(get())
    except Exception:                 # a partial cv2 module: no count to follow
        return None


def follow():
    """Read OpenCV's count and, when it changed since the last read, make it the policy's
    outside limit. Returns the count read (None without cv2)."""
    n = opencv_count()
    if n != _last["read"]:
        _last["read"] = n
        if _POLICY in sys.modules or not _no_limit(n):
            from ..parallel import threads
            threads.set_outside_limit(n)
        # (else: no policy made yet, and one made later starts without a limit, as this
        # count asks: a cv2.dnn program that keeps OpenCV's default never imports it)
    return n


def _no_limit(n):
    """Whether ``n`` sets no limit (:func:`~caffe_compat.parallel.threads.set_outside_limit`:
    None, or at least the CPUs this process may run on, as no pass has pinned it yet)."""
    if n is None:
        return True
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return int(n) >= cpus
