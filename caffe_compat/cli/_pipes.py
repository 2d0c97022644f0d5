"""``caffe-compat train`` writing into a pipe (``| tee log``, ``2>&1 | tee log``, ``| head``).

Caffe's log goes to stderr. Ctrl-C at a terminal signals the whole pipeline: ``tee`` ends at
once, and the lines after it (the one naming the snapshot among them) go into a pipe without a
reader (Python ignores SIGPIPE; :class:`~caffe_compat.diagnostics.glog.SolverLog` points the
lost stream at /dev/null). A reader that ends on its own (``tee`` killed, ``| head`` done) left
a training running to ``max_iter`` with nobody to see it. So:

- where stdout or stderr is a pipe (:func:`piped`), the command first says what Ctrl-C writes
  and where (:func:`hint`);
- :class:`ReaderWatch` notices a reader gone without writing (``poll``'s ``POLLERR`` on a pipe
  without a reader, ``POLLHUP`` for a socket), on duplicates of the descriptors, which the
  /dev/null put over a lost stream does not hide; asked once per iteration (about a
  microsecond), it answers Caffe's ``stop``: the snapshot is written, the command says why and
  exits with status 141, as a process ended by SIGPIPE;
- :func:`tell` writes a closing line to stdout and stderr (once when they are the same file),
  and to the terminal when both are pipes and this process is in its foreground group (the
  Ctrl-C case, where ``tee`` is gone).
"""
from __future__ import annotations

import os
import select
import stat
import sys

# exit status of a training stopped because its output's reader is gone (128 + SIGPIPE)
LOST_READER_EXIT = 141


def _is_pipe(fd):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def piped():
    """The standard output streams that are pipes or sockets: a subset of (1, 2)."""
    return tuple(fd for fd in (1, 2) if _is_pipe(fd))


def hint(effect, prefix, extension):
    """What Ctrl-C does, for a log that goes into a pipe (None when SIGINT does nothing)."""
    if effect == "none":
        return None
    then = "stops" if effect == "stop" else "goes on"
    return (f"Output goes into a pipe: Ctrl-C writes the snapshot {prefix}_iter_<N>"
            f"{extension} (and its .solverstate) and {then}; when Ctrl-C also ends the "
            f"pipe's reader (| tee), the lines after it are lost: the snapshot's path is "
            f"then written to the terminal too, and --log FILE keeps every line")


def say_hint(effect, solver, log):
    """Log :func:`hint` when stdout or stderr is a pipe."""
    line = hint(effect, solver.param.snapshot_prefix, snapshot_paths(solver)[2]) \
        if piped() else None
    if line:
        log.info(line, "caffe.cpp:218")     # Caffe's train() makes its SignalHandler there


class ReaderWatch:
    """Whether the reader of a piped stdout or stderr is gone (module doc)."""

    def __init__(self, fds=None):
        self.original = {os.dup(fd): fd for fd in (piped() if fds is None else fds)}
        self.poller = None
        if self.original and hasattr(select, "poll"):
            self.poller = select.poll()
            for fd in self.original:
                self.poller.register(fd, 0)    # POLLERR / POLLHUP are always reported

    def gone(self):
        """The watched streams (1, 2) whose reader is gone."""
        if self.poller is None:
            return set()
        return {self.original[fd] for fd, ev in self.poller.poll(0)
                if ev & (select.POLLERR | select.POLLHUP)}

    def lost(self):
        return bool(self.gone())

    def close(self):
        for fd in self.original:
            os.close(fd)
        self.original, self.poller = {}, None


def _write(stream, line):
    try:
        stream.write(line + "\n")
        stream.flush()
        return True
    except (OSError, ValueError, AttributeError):
        return False


def _terminal(line):
    """Write ``line`` to the controlling terminal when this process is in its foreground
    process group (so the write cannot stop it with SIGTTOU)."""
    try:
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return
    try:
        if os.tcgetpgrp(fd) == os.getpgrp():
            os.write(fd, (line + "\n").encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def tell(line, watch=None):
    """Write ``line`` to stdout and stderr (once if they are one file), and to the terminal
    when both are pipes whose reader is gone (``watch``: their :class:`ReaderWatch`)."""
    seen = set()
    for stream in (sys.stdout, sys.stderr):
        try:
            st = os.fstat(stream.fileno())
            key = (st.st_dev, st.st_ino)
        except (OSError, ValueError, AttributeError):
            key = id(stream)
        if key not in seen:
            seen.add(key)
            _write(stream, line)
    if watch is not None and watch.gone() == {1, 2}:
        _terminal(line)


def snapshot_paths(solver):
    """(caffemodel, solverstate, the caffemodel's extension) of a snapshot at this iteration."""
    from ..proto import caffe_pb2
    h5 = solver.param.snapshot_format == caffe_pb2.SolverParameter.HDF5
    ext = ".caffemodel.h5" if h5 else ".caffemodel"
    return (solver.snapshot_filename(ext),
            solver.snapshot_filename(".solverstate.h5" if h5 else ".solverstate"), ext)


def report_stop(solver, signals, log):
    """After solve(): a stop asked by a signal or by a reader gone names the snapshot on
    stdout and stderr (and the terminal, :func:`tell`); returns the exit status (Caffe's 0
    after a signal, LOST_READER_EXIT after a reader gone)."""
    if signals.cause is None or not getattr(solver, "requested_early_exit", False):
        return 0
    model, state, _ = snapshot_paths(solver)
    if os.path.exists(state):
        written = f"after writing the snapshot {model}; resume with -snapshot {state}"
    elif not solver.param.snapshot_after_train:
        written = "without a snapshot (snapshot_after_train: false)"
    else:       # Caffe's Solve snapshots at the stop unless the iteration is one of `snapshot`
        written = (f"without a snapshot (Caffe's rule: none at the stop when the iteration is "
                   f"a multiple of snapshot: {solver.param.snapshot})")
    if signals.cause == "reader":
        line = (f"caffe-compat train: the reader of the output pipe is gone: stopped at "
                f"iteration {solver.iter} {written}")
    else:
        line = f"caffe-compat train: {signals.cause}: stopped at iteration {solver.iter} {written}"
    for f in log.files:
        f.write(line + "\n")
        f.flush()
    tell(line, signals.watch)
    return LOST_READER_EXIT if signals.cause == "reader" else 0

