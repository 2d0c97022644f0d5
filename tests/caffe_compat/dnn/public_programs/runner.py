"""Run one of the cv2.dnn client programs (``scripts/``) and keep what it computed.

    python -m tests.caffe_compat.dnn.public_programs.runner NAME FOLDER OUT.npz [...] [--ours]

FOLDER holds the inputs ``programs.prepare`` wrote. ``--ours`` first calls
``caffe_compat.dnn.install()`` (with ``replace=True`` where the installed OpenCV still has its own
Caffe importer, OpenCV 4, so that ours is the one measured); without it the program runs on the
installed OpenCV's own importer. Several programs (NAME FOLDER OUT each) run one after the
other, each in a child forked from this process after ``cv2`` and (with ``--ours``)
``caffe_compat.dnn`` were imported: the import of torch is paid once, and each program still
gets a process of its own (its installs, registered layers and globals go with it).

The program runs with ``runpy`` under its own file name and ``sys.argv``, after these stand-ins
for what a test machine lacks (a display and a camera), put on the ``cv2`` module:

- ``namedWindow``, ``createTrackbar``, ``destroyAllWindows``: recorded, no window;
- ``imshow``: the image is kept (a copy), per window name;
- ``waitKey``: no key (-1) while the video has frames left, then Esc (27), as a user who closes
  the program when the video is over; the programs' ``while cv.waitKey(1) < 0`` and
  ``if cv.waitKey(1) != -1: break`` loops end after the last frame;
- ``VideoCapture(path)``: the image file read with ``imread``, given as one frame, then the end
  of the stream (``(False, None)``), as OpenCV's image-sequence capture gives a single image;
  a path with a ``%d`` pattern (``frame_%d.png``) gives the files it names from 0 on while
  they exist, one frame each, as OpenCV's image-sequence capture reads them;
  ``VideoCapture(0)`` (a camera) gives the working folder's ``photo.png`` as one frame.

Programs with relative paths in their code run in FOLDER (``Program.cwd``). Printed lines about
time have their numbers masked (``#``), the rest is kept as printed.

OUT.npz holds the program's variables the Program lists (its globals after the run), the names of
the windows it showed, ``stdout`` (what it printed) and ``opencv`` (the version).
"""
import argparse
import contextlib
import io
import os
import re
import runpy
import sys
import traceback

import numpy as np


_CAPTURES = []


class _Capture:
    """A video: the image file given, the numbered files of a ``%d`` pattern, or for a camera
    index, ``photo.png`` of the working folder."""

    def __init__(self, source=0, *args):
        import cv2
        if isinstance(source, int):
            paths = [os.path.join(_FOLDER[0], "photo.png")]
        elif "%" in source:
            paths = []
            while os.path.exists(source % len(paths)):
                paths.append(source % len(paths))
        else:
            paths = [source]
        self.frames = [cv2.imread(path) for path in paths]
        _CAPTURES.append(self)

    def isOpened(self):
        return bool(self.frames)

    def read(self):
        if self.frames:
            return True, self.frames.pop(0)
        return False, None

    def release(self):
        self.frames = []

    def set(self, *args):
        return True

    def get(self, *args):
        return 0.0


_FOLDER = ["."]


def _wait_key(*args, **kwargs):
    """No key while a capture still has frames; Esc (27) once every frame was read, as a
    user closing the program after the video would."""
    return -1 if any(c.frames for c in _CAPTURES) or not _CAPTURES else 27


def _mask_timings(text):
    """Printed lines about time (``Inference time, ms: 12.34``) with their numbers as ``#``:
    timings differ from run to run."""
    return "".join(re.sub(r"\d+(\.\d+)?", "#", line) if re.search(r"time|\bms\b", line, re.I)
                   else line for line in text.splitlines(keepends=True))


def stand_ins(cv2):
    """Put the display and camera stand-ins on ``cv2``; returns the windows' images."""
    shown = {}
    cv2.namedWindow = lambda *a, **k: None
    cv2.createTrackbar = lambda *a, **k: None
    cv2.destroyAllWindows = lambda *a, **k: None
    cv2.imshow = lambda name, image: shown.setdefault(name, []).append(np.array(image))
    cv2.waitKey = _wait_key
    cv2.VideoCapture = _Capture
    return shown


def run(program, folder, ours):
    import cv2
    if ours:
        from caffe_compat import dnn
        dnn.install(replace=hasattr(cv2.dnn, "readNetFromCaffe"))
    shown = stand_ins(cv2)
    folder = os.path.abspath(folder)
    _FOLDER[0] = folder
    argv = program.argv(folder)
    old_argv, old_path, old_cwd = sys.argv, list(sys.path), os.getcwd()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(argv[0]))
    if program.cwd:
        os.chdir(folder)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            env = runpy.run_path(argv[0], run_name="__main__")
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        os.chdir(old_cwd)
    result = {"stdout": np.array(_mask_timings(out.getvalue())),
              "opencv": np.array(cv2.__version__)}
    maps = tuple(var for pair in program.class_maps for var in pair)
    for name in dict.fromkeys(program.arrays + program.exact + program.detections[:1] + maps):
        value = env[name]
        if name == "points":        # [(x, y) or None]: -1 -1 for None
            value = [(-1, -1) if p is None else p for p in value]
        result[f"var/{name}"] = np.asarray(value)
    result["windows"] = np.array(sorted(shown))
    return result


def _write(result, out):
    from caffe_compat.io.atomic import write_bytes_atomic
    buf = io.BytesIO()
    np.savez(buf, **result)
    write_bytes_atomic(out, buf.getvalue())


def _run_forked(program, folder, out, ours):
    """Run one program in a child of this process (which imported cv2, numpy and, for
    ``--ours``, caffe_compat.dnn once, before any of them computed anything); the child
    installs, runs and writes as a process of its own would. Returns its exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            _write(run(program, folder, ours), out)
            status = 0
        except BaseException:
            sys.stderr.write(f"[{program.name}] ")
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    return os.waitpid(pid, 0)[1]


def main(argv=None):
    from .programs import PROGRAMS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("jobs", nargs="+", metavar="NAME FOLDER OUT",
                        help="one program, or several (each in a forked child)")
    parser.add_argument("--ours", action="store_true")
    args = parser.parse_args(argv)
    if len(args.jobs) % 3:
        parser.error("give NAME FOLDER OUT for each program")
    jobs = [args.jobs[i:i + 3] for i in range(0, len(args.jobs), 3)]
    for name, _, _ in jobs:
        if name not in PROGRAMS:
            parser.error(f"unknown program {name!r}; the programs are {sorted(PROGRAMS)}")
    if len(jobs) == 1:
        name, folder, out = jobs[0]
        _write(run(PROGRAMS[name], folder, args.ours), out)
        return
    import cv2  # noqa: F401  (imported once, for every child)
    if args.ours:
        import caffe_compat.dnn  # noqa: F401
    failed = [name for name, folder, out in jobs
              if _run_forked(PROGRAMS[name], folder, out, args.ours) != 0]
    if failed:
        sys.exit(f"failed: {' '.join(failed)}")


if __name__ == "__main__":
    main()
