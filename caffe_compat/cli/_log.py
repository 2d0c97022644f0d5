"""glog-style lines on stderr for the tools (as Caffe's tools print with alsologtostderr),
written above a tqdm bar when one is active."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..diagnostics.glog import glog_line


def log(message, severity="I", where=None):
    """One glog line; ``where`` defaults to the calling tool's Caffe source file."""
    if where is None:
        caller = sys._getframe(1).f_globals.get("__name__", "tools").rsplit(".", 1)[-1]
        where = f"{_SOURCES.get(caller, caller)}.cpp:0"
    tqdm.write(glog_line(severity, where, message), file=sys.stderr)


_SOURCES = {"upgrade": "upgrade_proto", "device_query": "caffe"}
