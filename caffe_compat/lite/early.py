"""A runtime session started when a net is read, on a thread of its own, so that loading the
model (OpenCV 5's ONNX reader and onnxruntime's session build run without the GIL) overlaps
what the program does before its first forward: the rest of reading the net, decoding and
resizing its image, ``blobFromImage``. The first forward takes the session (waiting for it
if needed); an error in building it is raised there, where a session built at the first
forward would have raised it. A program that never runs a forward waits for the thread at
exit: the interpreter joins it before finalising (a daemon thread still inside OpenCV's
reader at that point would abort the process)."""
from __future__ import annotations

import threading


class EarlySession:
    """``make(*args)`` (a runtime session) being built on a thread; :meth:`result` waits for
    it."""

    def __init__(self, make, *args):
        self._make, self._args = make, args
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, name="caffe_compat-session")
        self._thread.start()

    def _run(self):
        try:
            self._value = self._make(*self._args)
        except BaseException as exc:      # raised again by result(), in the caller's thread
            self._error = exc
        finally:
            self._make = self._args = None

    def result(self):
        """The session, or the error its build raised; None where the thread did not finish
        it in this process (a child forked while it ran: the caller builds its own)."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value
