"""``caffe.Timer`` (Caffe's CPUTimer as pycaffe exposes it): ``start``, ``stop``, ``ms``."""
import time


class Timer:
    """Wall-clock timer: ``start()``, ``stop()``; ``ms`` is the last start-stop interval (or
    the time since ``start`` while running), in milliseconds."""

    def __init__(self):
        self._start = None
        self._elapsed = 0.0
        self._running = False

    def start(self):
        self._start = time.perf_counter()
        self._running = True

    def stop(self):
        if self._running:
            self._elapsed = time.perf_counter() - self._start
            self._running = False

    @property
    def ms(self):
        if self._running:
            return (time.perf_counter() - self._start) * 1e3
        return self._elapsed * 1e3
