"""A background thread filling a bounded queue of batches (Caffe's
BasePrefetchingDataLayer: ``prefetch`` batches are loaded ahead while the net computes).

The producer is a generator of batches, run in a daemon thread started on the first
``next()``; at most ``depth`` finished batches wait in the queue, so memory is bounded by the
queue, not by the data. Reading, decoding and the numpy transforms release the GIL, so they
overlap the net's computation. An error in the producer is raised by the ``next()`` that
would have returned its batch, with the producer's message; ``close()`` stops the thread.
The producer's random draws happen in the thread in batch order, so the batches do not depend
on timing.
"""
from __future__ import annotations

import queue
import threading

_STOP = object()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


class Prefetcher:
    """Iterate ``make_batches()`` (a generator factory) in a background thread."""

    def __init__(self, make_batches, depth=4, name="prefetch"):
        self.make_batches = make_batches
        self.depth = max(1, int(depth))
        self.name = name
        self._queue = None
        self._thread = None
        self._stop = threading.Event()
        self._done = False

    @staticmethod
    def _run(make_batches, q, stop):
        # a static method: the thread holds the factory, the queue and the event, never the
        # Prefetcher, whose owner can then be collected (and stop the thread)
        gen = None
        try:
            gen = make_batches()
            for batch in gen:
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            Prefetcher._put_final(q, stop, _STOP)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            Prefetcher._put_final(q, stop, _Failure(e))
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _put_final(q, stop, item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def start(self):
        if self._thread is None:
            self._queue = queue.Queue(maxsize=self.depth)
            self._thread = threading.Thread(target=Prefetcher._run,
                                            args=(self.make_batches, self._queue, self._stop),
                                            name=self.name, daemon=True)
            self._thread.start()

    def next(self):
        """The next batch (waits for the thread); re-raises the producer's error."""
        if self._done:
            raise StopIteration
        self.start()
        while True:
            try:
                item = self._queue.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True
                    raise RuntimeError(f"{self.name}: the prefetch thread ended without a "
                                       "batch") from None
        if item is _STOP:
            self._done = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._done = True
            raise item.error
        return item

    def stop(self):
        """Ask the thread to stop (it ends at its next step; no waiting)."""
        self._stop.set()

    def close(self):
        """Stop the thread and wait for it (a batch being made is dropped)."""
        self._stop.set()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(timeout=5)
        self._thread = None

    def __del__(self):
        try:
            self.stop()
        except Exception:
            pass
