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
- ``waitKey``: no key is pressed (-1), so the programs' ``while cv.waitKey(1) < 0`` loops go on
  until the input ends;
- ``VideoCapture(path)``: the image file read with ``imread``, given as one frame, then the end
  of the stream (``(False, None)``), as OpenCV's image-sequence capture gives a single image.

OUT.npz holds the program's variables the Program lists (its globals after the run), the names of
the windows it showed, ``stdout`` (what it printed) and ``opencv`` (the version).
"""
import argparse
import contextlib
import io
import os
import runpy
import sys

import numpy as np


class _Capture:
    def __init__(self, source=0, *args):
        import cv2
        self.frames = [] if isinstance(source, int) else [cv2.imread(source)]

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


def stand_ins(cv2):
    """Put the display and camera stand-ins on ``cv2``; returns the windows' images."""
    shown = {}
    cv2.namedWindow = lambda *a, **k: None
    cv2.createTrackbar = lambda *a, **k: None
    cv2.destroyAllWindows = lambda *a, **k: None
    cv2.imshow = lambda name, image: shown.setdefault(name, []).append(np.array(image))
    cv2.waitKey = lambda *a, **k: -1
    cv2.VideoCapture = _Capture
    return shown


def run(program, folder, ours):
    import cv2
    if ours:
        from caffe_compat import dnn
        dnn.install(replace=hasattr(cv2.dnn, "readNetFromCaffe"))
    shown = stand_ins(cv2)
    argv = program.argv(folder)
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(argv[0]))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            env = runpy.run_path(argv[0], run_name="__main__")
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
    result = {"stdout": np.array(out.getvalue()), "opencv": np.array(cv2.__version__)}
    for name in program.arrays + program.exact:
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
