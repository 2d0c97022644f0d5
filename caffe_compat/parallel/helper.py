"""One helper thread that takes the second half of a piece of work while the caller does the
first: made on first use (a daemon's pool, so it never holds the process), made again in a
forked child (the parent's thread is not there), and given the process's CPUs when it starts
inside a placed pass (:func:`caffe_compat.parallel.placement.widen_current_thread`). Used by
the convolution's weight gradient in halves (:mod:`caffe_compat.kernels.fixed_order`) and by
DetectionOutput's images in halves (:mod:`caffe_compat.rules.detection_output`)."""
from __future__ import annotations

import os
import threading
import weakref

_helpers = weakref.WeakSet()


class Helper:
    """A one-thread pool named ``name``; ``initializer`` runs in the thread when it starts,
    after it is widened."""

    def __init__(self, name, initializer=None):
        self.name, self._initializer = name, initializer
        self._pool, self._lock = None, threading.Lock()
        _helpers.add(self)

    def _start(self):
        from . import placement
        placement.widen_current_thread()     # started in a placed pass: not on its one CPU
        if self._initializer is not None:
            self._initializer()

    def submit(self, fn, *args):
        """``fn(*args)`` on the helper thread: a future."""
        with self._lock:
            if self._pool is None:
                # imported here: a process that never starts a helper (a one-shot net's read)
                # does not pay for concurrent.futures and the logging it imports
                import concurrent.futures
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=self.name, initializer=self._start)
            pool = self._pool
        return pool.submit(fn, *args)

    def _forget(self):
        self._pool, self._lock = None, threading.Lock()


def _forget_all():
    """In a forked child: every helper's thread is the parent's, so each is made anew."""
    for helper in list(_helpers):
        helper._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all)
