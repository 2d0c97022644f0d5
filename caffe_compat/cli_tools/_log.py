"""glog-style lines on stderr for the tools (as Caffe's tools print with alsologtostderr),
written above a tqdm bar when one is active."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..solvers._log import glog_line


def log(message, severity="I", where="tools.cpp:0"):
    tqdm.write(glog_line(severity, where, message), file=sys.stderr)
