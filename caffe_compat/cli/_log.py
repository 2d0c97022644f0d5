"""glog-style lines on stderr for the tools (as Caffe's tools print with alsologtostderr),
written above a tqdm bar when one is active."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..diagnostics.glog import caller_place, glog_line


def log(message, severity="I", where=None):
    """One glog line; ``where``: the Caffe source line that prints it (``"caffe.cpp:197"``),
    by default the calling Python file and line (a line of this project's)."""
    tqdm.write(glog_line(severity, where or caller_place(), message), file=sys.stderr)


def progress_bar(progress=None, **kwargs):
    """A tqdm bar on stderr (``kwargs``: tqdm's), drawn where ``progress`` is True or, where
    it is None, where stderr is a terminal."""
    return tqdm(file=sys.stderr, disable=progress is False or (
        progress is None and not sys.stderr.isatty()), **kwargs)
