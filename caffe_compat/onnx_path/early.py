"""Work started early on a thread of its own, so that it overlaps what the program does
meanwhile: the runtime's session when a net is read (OpenCV 5's ONNX reader and onnxruntime's
session build run without the GIL) overlaps the rest of reading the net and the program's own
image preparation (decoding, resizing, ``blobFromImage``); a caffemodel's bytes (the file read
runs without the GIL) are read while the prototxt is parsed.

The caller takes the result when it needs it (waiting for it if needed); an error raised on
the thread is raised there. A program that never takes the result waits for the thread at
exit (a daemon thread still inside OpenCV's reader then would abort the process). Work is
started early only where another core is free for it (:func:`core_free`)."""
from __future__ import annotations

import os

# a caffemodel, or a net's weights, of fewer bytes is read, or its session made, where it is
# needed instead: Thread.start() waits until the new thread runs (figures: docs/engines.md,
# "Figures behind the constants")
EARLY_MIN_BYTES = 2 << 20
# "auto" (the default): work is started early where core_free() says so; "1": always; "0":
# never
ENV = "CAFFE_COMPAT_EARLY"


def core_free(loadavg="/proc/loadavg", tasks="/proc/self/task"):
    """Whether a core is free for work started early now: the process may run on two CPUs
    or more, and the tasks of other processes running on the machine (the fourth field of
    ``/proc/loadavg`` less this process's threads in state R, such as OpenCV's pool after
    its import) leave a CPU beside the caller's; True where that cannot be read.
    ``$CAFFE_COMPAT_EARLY`` (``1`` / ``0``) decides instead (figures: docs/threads.md's
    table). A thread that ends while it is looked at is not counted."""
    forced = os.environ.get(ENV, "auto").strip().lower()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return False
        with open(loadavg) as f:
            running = int(f.read().split()[3].split("/")[0])
        for task in os.listdir(tasks):
            try:
                with open(os.path.join(tasks, task, "stat")) as f:
                    stat = f.read()
            except OSError:                 # the thread ended meanwhile
                continue
            running -= stat[stat.rindex(")") + 2:].startswith("R")
    except (AttributeError, OSError, ValueError, IndexError):
        return True
    return running < (os.cpu_count() or 1) - 1


class EarlyCall:
    """``make(*args)`` being run on a thread; :meth:`result` waits for it."""

    def __init__(self, make, *args, name="caffe_compat-early"):
        self._make, self._args = make, args
        self._value = self._error = None
        import threading
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()

    def _run(self):
        try:
            self._value = self._make(*self._args)
        except BaseException as exc:      # raised again by result(), in the caller's thread
            self._error = exc
        finally:
            self._make = self._args = None

    def result(self):
        """What the call returned, or the error it raised; None where the thread did not
        finish it in this process (a child forked while it ran: the caller does the work
        itself)."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        value, self._value = self._value, None
        return value
