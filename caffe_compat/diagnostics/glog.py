"""Caffe-style (glog) log lines for the solver and the command-line tool.

A line reads ``I1121 12:00:00.123456 12345 solver.cpp:239] Iteration 0, loss = 0.5``: severity,
month and day, time with microseconds, thread id, the Caffe source location that prints the same
message, then the message. Caffe's own log parsers (``tools/extra/parse_log.py``) read these.
Numbers are formatted as C++ streams print a float (6 significant digits, ``%g``).

A stream whose reader has gone (``caffe-compat train ... 2>&1 | tee log`` and Ctrl-C, which
ends ``tee`` as well) does not end the run: its lines are dropped from then on
(:func:`drop_lost_stream`) and training goes on to what the signal asked for, the snapshot of
Caffe's SIGINT stop included, as ``caffe train`` does in the same pipe; ``--log`` files still
receive every line.

``GLOG_minloglevel`` (glog's environment flag, which Caffe's tools read: 0 INFO, 1 WARNING,
2 ERROR, 3 FATAL) drops the stream's lines of lower severity, as in Caffe
(``GLOG_minloglevel=1 caffe train ...`` prints warnings and errors only); ``--log`` files keep
every line.
"""
from __future__ import annotations

import datetime
import logging
import os
import stat
import sys

_PY_LOG = logging.getLogger("caffe_compat.solver")
_LEVELS = {"I": logging.INFO, "W": logging.WARNING, "E": logging.ERROR, "F": logging.CRITICAL}
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}           # glog's numbers


def min_log_level():
    """glog's ``GLOG_minloglevel`` (0 when unset or not a number, as glog reads it)."""
    try:
        return int(os.environ.get("GLOG_minloglevel", "0"))
    except ValueError:
        return 0


def g(value):
    """A number as ``std::ostream << float`` prints it (6 significant digits)."""
    return f"{float(value):.6g}"


def glog_line(severity, where, message):
    """The line without its newline: glog ends a message with one unless it has its own."""
    now = datetime.datetime.now()
    return (f"{severity}{now:%m%d %H:%M:%S}.{now.microsecond:06d} {os.getpid():5d} {where}] "
            + message.removesuffix("\n"))


class SolverLog:
    """Where solver messages go.

    ``stream``: a text stream (e.g. ``sys.stderr``) receiving glog-formatted lines; without one
    the messages go to the ``logging`` logger ``caffe_compat.solver`` (the Python API default,
    silent unless logging is configured). ``files``: extra text streams that always receive
    glog lines. While a tqdm progress bar is active (``bar``), lines are written above it.
    """

    def __init__(self, stream=None, files=(), keep=False):
        self.stream = stream
        self.files = list(files)
        self.bar = None
        self.lines = [] if keep else None
        self.min_level = min_log_level()

    def _emit(self, severity, where, message):
        line = glog_line(severity, where, message)
        if self.lines is not None:
            self.lines.append(line)
        if self.stream is None:
            _PY_LOG.log(_LEVELS[severity], "%s", message)
        elif _SEVERITY[severity] >= self.min_level:     # GLOG_minloglevel (module doc)
            try:
                if self.bar is not None:
                    from tqdm import tqdm
                    tqdm.write(line, file=self.stream)
                else:
                    self.stream.write(line + "\n")
                    self.stream.flush()
            except BrokenPipeError:
                drop_lost_stream(self.stream)
        for f in self.files:
            f.write(line + "\n")
            f.flush()

    def redirect(self, stream):
        """Write the lines kept so far to ``stream`` (those ``GLOG_minloglevel`` lets
        through), then every later line there."""
        for line in self.lines or ():
            if _SEVERITY[line[0]] >= self.min_level:
                stream.write(line + "\n")
        self.lines, self.stream = None, stream

    # ``where``: the Caffe source line that prints the message (``"solver.cpp:239"``); by
    # default the calling Python file and line (:func:`caller_place`)
    def info(self, message, where=None):
        self._emit("I", where or caller_place(), message)

    def warning(self, message, where=None):
        self._emit("W", where or caller_place(), message)

    def error(self, message, where=None):
        self._emit("E", where or caller_place(), message)


def caller_place(depth=2):
    """``file.py:line`` of the call ``depth`` frames up: a real, stable place for a message
    that has no Caffe source line (never line 0)."""
    frame = sys._getframe(depth)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def drop_lost_stream(stream):
    """After a write to ``stream`` found its pipe without a reader (EPIPE): point its file
    descriptor, and those of the other standard streams on the same pipe (``2>&1``), at
    /dev/null, so that later writes, and the interpreter's last flush at exit, succeed and
    write nothing (Python's documented answer to SIGPIPE, which it ignores)."""
    try:
        lost = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for other in {stream, sys.stdout, sys.stderr}:
            try:
                fd = other.fileno()
                st = os.fstat(fd)
            except (AttributeError, OSError, ValueError):
                continue
            if (st.st_dev, st.st_ino) == (lost.st_dev, lost.st_ino) and \
                    (stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
