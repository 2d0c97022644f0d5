"""Work started early on a thread of its own, so that it overlaps what the program does
meanwhile: the runtime's session when a net is read (OpenCV 5's ONNX reader and onnxruntime's
session build run without the GIL) overlaps the rest of reading the net and the program's own
image preparation (decoding, resizing, ``blobFromImage``); a caffemodel's bytes (the file read
runs without the GIL) are read while the prototxt is parsed.

The caller takes the result when it needs it (waiting for it if needed); an error raised on
the thread is raised there, where doing the work at that point would have raised it. A
program that never takes the result waits for the thread at exit: the interpreter joins it
before finalising (a daemon thread still inside OpenCV's reader at that point would abort
the process)."""
from __future__ import annotations

import threading

# a caffemodel, or a net's weights, of fewer bytes is read, or its session made, where it is
# needed instead: Thread.start() waits until the new thread runs, and the MTCNN cascade's
# three nets (0.03-1.5 MB) took 20-35 ms to read with five threads started (a 2-core AMD EPYC
# beside other work; 4-9 ms without them, OpenCV 4: 4.4 ms)
EARLY_MIN_BYTES = 2 << 20


class EarlyCall:
    """``make(*args)`` being run on a thread; :meth:`result` waits for it."""

    def __init__(self, make, *args, name="caffe_compat-early"):
        self._make, self._args = make, args
        self._value = self._error = None
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
