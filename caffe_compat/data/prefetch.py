"""A background thread filling a bounded queue of batches (Caffe's
BasePrefetchingDataLayer: ``prefetch`` batches are loaded ahead while the net computes).

The producer is a generator of batches, run in a daemon thread started on the first
``next()``; as Caffe's free and full queues, at most ``depth`` batches are made and not yet
taken (the thread takes a free slot before it makes a batch, ``next()`` gives it back), so
memory is bounded by the depth. A ``stage`` function (``set_stage``) is applied to each batch
in the thread (:mod:`caffe_compat.data.device_feed`). An error in the producer is raised by
the ``next()`` that would have returned its batch; ``close()``, or the Prefetcher going,
stops the thread and waits for it. The producer's random draws happen in the thread in batch
order, so the batches do not depend on timing."""
from __future__ import annotations

import contextlib
import queue
import threading
import weakref

from ..errors import CaffeCompatError, DataError
from ..parallel import placement

_STOP = object()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


# how long closing waits for a batch being made before leaving the thread to end by itself
JOIN_SECONDS = 60


class _Worker:
    """The thread, its queue and its stop event: what stopping needs, without the Prefetcher
    (whose finalizer holds this)."""

    def __init__(self):
        self.thread = None
        self.queue = None
        self.slots = None
        self.stage = None
        self.stop = threading.Event()

    def shutdown(self, wait=True):
        """Stop the thread; with ``wait``, until it has ended (and closed its producer)."""
        self.stop.set()
        self._drain()                  # batches made and not taken go now
        if self.slots is not None:     # a thread waiting for a free slot sees the stop now
            self.slots.release()
        t = self.thread
        if wait and t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(timeout=JOIN_SECONDS)
            self._drain()              # and one the thread finished meanwhile

    def _drain(self):
        q = self.queue
        if q is not None:
            with contextlib.suppress(queue.Empty):
                while True:
                    q.get_nowait()


class Prefetcher:
    """Iterate ``make_batches()`` (a generator factory) in a background thread.

    The thread holds the factory, the queue and the stop event, never the Prefetcher, so the
    Prefetcher's owner can go while the thread runs; when the Prefetcher goes (or ``close()``),
    the thread is stopped and joined, and its generator closed in it (so a producer closes what
    it reads before ``close()`` returns, as Caffe's StopInternalThread joins)."""

    def __init__(self, make_batches, depth=4, name="prefetch"):
        self.make_batches = make_batches
        self.depth = max(1, int(depth))
        self.name = name
        self._worker = _Worker()
        self._done = False
        self._finalizer = weakref.finalize(self, self._worker.shutdown)

    @staticmethod
    def _run(make_batches, worker):
        placement.widen_current_thread()    # started in a placed pass: not on its one CPU
        q, stop, slots = worker.queue, worker.stop, worker.slots
        gen = None
        try:
            gen = make_batches()
            batches = iter(gen)
            while True:
                while not slots.acquire(timeout=0.1):    # a free slot (Caffe's free queue)
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    batch = next(batches)
                except StopIteration:
                    q.put(_STOP)
                    return
                stage = worker.stage
                q.put(batch if stage is None else stage(batch))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            if not stop.is_set():
                q.put(_Failure(e))
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()

    def start(self):
        w = self._worker
        if w.thread is None:
            w.queue = queue.Queue()          # bounded by the slots
            w.slots = threading.Semaphore(self.depth)
            w.thread = threading.Thread(target=Prefetcher._run,
                                        args=(self.make_batches, w),
                                        name=self.name, daemon=True)
            w.thread.start()

    def next(self):
        """The next batch (waits for the thread); re-raises the producer's error."""
        if self._done:
            raise StopIteration
        if self._worker.stop.is_set():
            raise RuntimeError(f"{self.name}: the prefetcher is closed")
        self.start()
        q, thread = self._worker.queue, self._worker.thread
        while True:
            try:
                item = q.get(timeout=0.5)
                break
            except queue.Empty:
                if not thread.is_alive() and q.empty():
                    self._done = True
                    raise RuntimeError(f"{self.name}: the prefetch thread ended without a "
                                       "batch") from None
        if item is _STOP:
            self._done = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._done = True
            raise item.error
        self._worker.slots.release()          # the batch's slot is free again
        return item

    def set_stage(self, stage):
        """Apply ``stage(batch)`` in the thread to the batches made from now on (None: none);
        batches already made are handed out as they are."""
        self._worker.stage = stage

    @property
    def made_ahead(self):
        """How many batches are made and not taken (at most ``depth``)."""
        q = self._worker.queue
        return 0 if q is None else q.qsize()

    def stop(self):
        """Ask the thread to stop (it ends at its next step; no waiting)."""
        self._worker.shutdown(wait=False)

    def close(self):
        """Stop the thread and wait for it (a batch being made is dropped)."""
        self._finalizer()

    @property
    def running(self):
        t = self._worker.thread
        return t is not None and t.is_alive()


def guarded_batches(source, label):
    """``source.batches()`` with unexpected errors named after the layer; closes the source
    when the generator ends (in the prefetch thread)."""
    try:
        yield from source.batches()
    except CaffeCompatError:
        raise
    except Exception as e:  # noqa: BLE001 - unexpected: name the layer
        raise DataError(f"{label}: reading data failed: {type(e).__name__}: {e}") from e
    finally:
        source.close()


class HeldReaders:
    """What a prefetching data layer (either engine's) holds open: its prefetch thread, the
    thread's batch source and what was opened at set-up (``closers``). Released by the layer's
    ``close()`` or, when the layer goes, by its finalizer (``weakref.finalize``, which holds
    this and not the layer): the thread is stopped and joined, then the readers closed, before
    the last reference's ``del`` returns, as Caffe's layer destructor joins its thread and
    closes its database."""

    def __init__(self):
        self.prefetcher = None
        self.source = None
        self.closers = []
        self.feed = None        # (CUDA device, dtype) the batches are copied onto, or None

    def close(self):
        prefetcher, self.prefetcher = self.prefetcher, None
        if prefetcher is not None:
            prefetcher.close()      # joins the thread, which closes its source as it ends
        source, self.source = self.source, None
        closers, self.closers = self.closers, []
        for close in ([source.close] if source is not None else []) + closers:
            with contextlib.suppress(Exception):
                close()
