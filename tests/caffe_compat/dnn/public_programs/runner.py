"""Run one public cv2.dnn program unchanged and keep what it computed.

    python -m tests.caffe_compat.dnn.public_programs.runner NAME FOLDER OUT.npz [--ours]

FOLDER holds the inputs ``programs.prepare`` wrote. ``--ours`` first calls
``caffe_compat.dnn.install()`` (with ``replace=True`` where the installed OpenCV still has its own
Caffe importer, OpenCV 4, so that ours is the one measured); without it the program runs on the
installed OpenCV's own importer.

The program runs with ``runpy`` under its own file name and ``sys.argv``, after these stand-ins
for what a test machine lacks (a display and a camera), put on the ``cv2`` module:

- ``namedWindow``, ``createTrackbar``, ``destroyAllWindows``: recorded, no window;
- ``imshow``: the image is kept (a copy), per window name;
- ``waitKey``: no key (-1) while the video has frames left, then Esc (27), as a user who closes
  the program when the video is over; the programs' ``while cv.waitKey(1) < 0`` and
  ``if cv.waitKey(1) != -1: break`` loops end after the last frame;
- ``VideoCapture(path)``: the image file read with ``imread``, given as one frame, then the end
  of the stream (``(False, None)``), as OpenCV's image-sequence capture gives a single image;
  ``VideoCapture(0)`` (a camera) gives the working folder's ``photo.png`` so.

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

import numpy as np


_CAPTURES = []


class _Capture:
    """A video of one frame: the image file given, or for a camera index, ``photo.png`` of the
    working folder."""

    def __init__(self, source=0, *args):
        import cv2
        path = os.path.join(_FOLDER[0], "photo.png") if isinstance(source, int) else source
        self.frames = [cv2.imread(path)]
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
    for name in program.arrays + program.exact + program.detections[:1]:
        value = env[name]
        if name == "points":        # [(x, y) or None]: -1 -1 for None
            value = [(-1, -1) if p is None else p for p in value]
        result[f"var/{name}"] = np.asarray(value)
    result["windows"] = np.array(sorted(shown))
    return result


def main(argv=None):
    from .programs import PROGRAMS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(PROGRAMS))
    parser.add_argument("folder")
    parser.add_argument("out")
    parser.add_argument("--ours", action="store_true")
    args = parser.parse_args(argv)
    result = run(PROGRAMS[args.name], args.folder, args.ours)
    from caffe_compat.io.atomic import write_bytes_atomic
    buf = io.BytesIO()
    np.savez(buf, **result)
    write_bytes_atomic(args.out, buf.getvalue())


if __name__ == "__main__":
    main()
