"""Work started early on a thread of its own, so that it overlaps what the program does
meanwhile: the runtime's session when a net is read (OpenCV 5's ONNX reader and onnxruntime's
session build run without the GIL) overlaps the rest of reading the net and the program's own
image preparation (decoding, resizing, ``blobFromImage``); a caffemodel's bytes (the file read
runs without the GIL) are read while the prototxt is parsed.

The caller takes the result when it needs it (waiting for it if needed); an error raised on
the thread is raised there, where doing the work at that point would have raised it. A
program that never takes the result waits for the thread at exit: the interpreter joins it
before finalising (a daemon thread still inside OpenCV's reader at that point would abort
the process).

Work is started early only where another core is free for it (:func:`core_free`): on the
one core a program has beside other work, the thread only adds its own cost (and a net's
staged build its second part)."""
from __future__ import annotations

import os

# a caffemodel, or a net's weights, of fewer bytes is read, or its session made, where it is
# needed instead: Thread.start() waits until the new thread runs, and the MTCNN cascade's
# three nets (0.03-1.5 MB) took 20-35 ms to read with five threads started (a 2-core AMD EPYC
# beside other work; 4-9 ms without them, OpenCV 4: 4.4 ms)
EARLY_MIN_BYTES = 2 << 20
# "auto" (the default): work is started early where core_free() says so; "1": always; "0":
# never
ENV = "CAFFE_COMPAT_EARLY"


def core_free(loadavg="/proc/loadavg", tasks="/proc/self/task"):
    """Whether a core is free for work started early now: the process may run on two CPUs
    or more, and the tasks of other processes running on the machine (the fourth field of
    ``/proc/loadavg`` less this process's threads in state R, such as OpenCV's pool after
    its import) leave a CPU beside the caller's; True where that cannot be read.
    ``$CAFFE_COMPAT_EARLY`` (``1`` / ``0``) decides instead. Measured on the 2-core AMD EPYC
    with one core held by a busy loop: the one-shot res10 SSD program took 0.91x the time it
    took starting early work anyway, SqueezeNet 0.93x (with both cores free, early work
    gains up to 7 %). A thread that ends while it is looked at is not counted."""
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
